// Package tlsconf is hubbub's TLS: the certificate and key it serves (loaded, checked,
// reloaded without dropping anyone, or generated self-signed for trying things out), and the
// listeners that put TLS in front of a service: each connection's handshake bounded in time,
// done on the connection's own goroutine, and its failures counted by a closed set of reasons
// instead of logged.
package tlsconf

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Certs is the certificate a server presents, which Reload can replace while it runs: every
// handshake reads the current one (tls.Config.GetCertificate), so connections made before a
// reload keep the certificate they were made with and new ones get the new one.
type Certs struct {
	cur atomic.Pointer[loaded]
	now func() time.Time
}

// loaded is one certificate and the files it came from.
type loaded struct {
	cert              tls.Certificate
	certFile, keyFile string
}

// Load reads and checks a PEM certificate (chain) and its key. A missing file, a key that does
// not match, or a certificate outside its validity period is an error that names the file and
// says what to do.
func Load(certFile, keyFile string) (*Certs, error) {
	c := &Certs{now: time.Now}
	l, err := c.load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	c.cur.Store(l)
	return c, nil
}

// Reload reads the files again (certFile and keyFile, which may be new names). When they do not
// make a valid certificate it returns why and the old certificate stays in use.
func (c *Certs) Reload(certFile, keyFile string) error {
	l, err := c.load(certFile, keyFile)
	if err != nil {
		return err
	}
	c.cur.Store(l)
	return nil
}

// Leaf returns the certificate being served now (the first of its chain).
func (c *Certs) Leaf() *x509.Certificate { return c.cur.Load().cert.Leaf }

// Files returns the certificate and key files the current certificate came from.
func (c *Certs) Files() (certFile, keyFile string) {
	l := c.cur.Load()
	return l.certFile, l.keyFile
}

// Config returns a server configuration that presents the current certificate: TLS 1.2 and
// later, with Go's default cipher suites and curves.
func (c *Certs) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &c.cur.Load().cert, nil
		},
	}
}

func (c *Certs) load(certFile, keyFile string) (*loaded, error) {
	for _, f := range []struct{ flag, path string }{{"--tls-cert", certFile}, {"--tls-key", keyFile}} {
		if f.path == "" {
			return nil, fmt.Errorf("%s is empty: give both --tls-cert and --tls-key, or --tls-self-signed", f.flag)
		}
		if _, err := os.Stat(f.path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s %s: no such file: give the path of the PEM file, or use --tls-self-signed to try TLS out", f.flag, f.path)
			}
			return nil, fmt.Errorf("%s %s: %w", f.flag, f.path, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, fmt.Errorf("--tls-key %s is not the key of the certificate in %s: give the key the certificate was made with", keyFile, certFile)
		}
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w (want PEM files: the certificate, then any intermediates, and its private key)", certFile, keyFile, err)
	}
	leaf := cert.Leaf // set by LoadX509KeyPair
	now := c.now()
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("--tls-cert %s expired on %s: renew it (or use --tls-self-signed to try TLS out)", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("--tls-cert %s is not valid before %s: check this machine's clock, or use a certificate valid now", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &loaded{cert: cert, certFile: certFile, keyFile: keyFile}, nil
}

// Fingerprint is a certificate's SHA-256 fingerprint as openssl prints it (AB:CD:...), which a
// user compares with what a client shows before trusting a self-signed certificate.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
