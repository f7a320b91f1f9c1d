package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the self-signed certificate's files in the data directory.
const (
	SelfSignedCert = "tls-self-signed.crt"
	SelfSignedKey  = "tls-self-signed.key"
)

// selfSignedLife is how long a generated certificate is valid. It is for trying TLS out; one
// that has expired is replaced at the next start.
const selfSignedLife = 365 * 24 * time.Hour

// SelfSigned returns the files of a self-signed certificate in dir, generating them (an ECDSA
// P-256 key, readable by its owner only, and a certificate for localhost, 127.0.0.1, ::1 and
// hostname) when there are none or the certificate has expired. created says whether they are
// new.
func SelfSigned(dir, hostname string, now time.Time) (certFile, keyFile string, created bool, err error) {
	certFile, keyFile = filepath.Join(dir, SelfSignedCert), filepath.Join(dir, SelfSignedKey)
	if _, err := (&Certs{now: func() time.Time { return now }}).load(certFile, keyFile); err == nil {
		return certFile, keyFile, false, nil
	} else if !missing(certFile) && !missing(keyFile) && !expired(certFile, now) {
		// Something else is wrong with files we did not just make: leave them to the operator.
		return "", "", false, fmt.Errorf("self-signed certificate: %w (delete both files to have new ones made)", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", false, fmt.Errorf("self-signed certificate: %w", err)
	}
	certPEM, keyPEM, err := generate(hostname, now)
	if err != nil {
		return "", "", false, fmt.Errorf("self-signed certificate: %w", err)
	}
	// The key first: a certificate without its key would be found and refused next time.
	if err := writeAtomic(keyFile, keyPEM, 0o600); err != nil {
		return "", "", false, fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := writeAtomic(certFile, certPEM, 0o644); err != nil {
		return "", "", false, fmt.Errorf("self-signed certificate: %w", err)
	}
	return certFile, keyFile, true, nil
}

func missing(path string) bool {
	_, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// expired reports whether path holds a certificate that has expired by now.
func expired(path string, now time.Time) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return err == nil && now.After(cert.NotAfter)
}

func generate(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	// A little in the past, so that a client whose clock is slightly behind accepts it.
	return generateFor(hostname, now.Add(-time.Hour), now.Add(selfSignedLife))
}

func generateFor(hostname string, notBefore, notAfter time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("serial number: %w", err)
	}
	names := []string{"localhost"}
	if hostname != "" && hostname != "localhost" {
		names = append(names, hostname)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hubbub self-signed", Organization: []string{"hubbub"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that a user can add it to a trust store as it is
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeAtomic writes data to path through a temporary file in its directory, so that a crash
// leaves the old file or the new one, never half of one.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing left to remove
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
