package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"hubbub/internal/tlsconf"
)

// TLSConfig is where the certificate comes from and which listeners serve TLS.
type TLSConfig struct {
	Cert, Key        string
	SelfSigned       bool
	HandshakeTimeout time.Duration
	// The TLS listeners, each on only when a certificate is configured.
	ChatAddr, IRCAddr, HTTPSAddr string
	// Quote and echo over TLS are off unless asked for: the original notebook's clients speak
	// plain text, and a certificate given for the chat should not open two more ports.
	QuoteAddr, EchoAddr string
	// Admin serves the admin listener over HTTPS instead of HTTP: it switches rather than
	// adding a port, as its one client (a scraper) is configured for one of the two.
	Admin bool
}

// Default addresses of the TLS listeners. HTTPS beside HTTP, rather than the HTTP listener
// switching: a certificate added later breaks no http:// link or health check, and
// --http-addr "" serves HTTPS alone. 8443 is the usual unprivileged HTTPS port beside 8080;
// 8992 is telnets' 992 in the 8000s of the plain chat; 6697 is IRC over TLS's (RFC 7194).
const (
	defaultChatTLSAddr = ":8992"
	defaultIRCTLSAddr  = ":6697"
	defaultHTTPSAddr   = ":8443"
)

func defaultTLSConfig() TLSConfig {
	return TLSConfig{HandshakeTimeout: tlsconf.DefaultHandshakeTimeout,
		ChatAddr: defaultChatTLSAddr, IRCAddr: defaultIRCTLSAddr, HTTPSAddr: defaultHTTPSAddr}
}

func tlsFlags(fs *flag.FlagSet, c *TLSConfig) {
	fs.StringVar(&c.Cert, "tls-cert", c.Cert, "PEM `file` of the TLS certificate (and its intermediates); with --tls-key it turns on --chat-tls-addr, --irc-tls-addr and --https-addr; read again on SIGHUP")
	fs.StringVar(&c.Key, "tls-key", c.Key, "PEM `file` of --tls-cert's private key")
	fs.BoolVar(&c.SelfSigned, "tls-self-signed", c.SelfSigned, "make a self-signed certificate in --data-dir on first start and use it, to try TLS out (clients must be told to accept it)")
	fs.DurationVar(&c.HandshakeTimeout, "tls-handshake-timeout", c.HandshakeTimeout, "a TLS client that has not finished its handshake in this `duration` is disconnected")
	fs.StringVar(&c.ChatAddr, "chat-tls-addr", c.ChatAddr, "chat listener `address` over TLS, for openssl s_client and ncat --ssl; on only with a certificate; empty turns it off")
	fs.StringVar(&c.IRCAddr, "irc-tls-addr", c.IRCAddr, "IRC listener `address` over TLS (irssi /connect -tls, WeeChat -ssl or -tls); on only with a certificate; empty turns it off")
	fs.StringVar(&c.HTTPSAddr, "https-addr", c.HTTPSAddr, "public HTTPS listener `address`: what --http-addr serves, over TLS (the page then uses wss://); on only with a certificate; empty turns it off")
	fs.StringVar(&c.QuoteAddr, "quote-tls-addr", c.QuoteAddr, "quote service listener `address` over TLS (openssl s_client, ncat --ssl); needs a certificate; the same quotes as --quote-addr")
	fs.StringVar(&c.EchoAddr, "echo-tls-addr", c.EchoAddr, "echo service listener `address` over TLS (openssl s_client, ncat --ssl); needs a certificate")
	fs.BoolVar(&c.Admin, "admin-tls", c.Admin, "serve the admin listener (--admin-addr) over HTTPS with the certificate, instead of HTTP")
}

// on reports whether a certificate is configured.
func (c *TLSConfig) on() bool { return c.SelfSigned || c.Cert != "" || c.Key != "" }

func (c *TLSConfig) validate() []error {
	var errs []error
	switch {
	case c.SelfSigned && (c.Cert != "" || c.Key != ""):
		errs = append(errs, errors.New("--tls-self-signed makes its own certificate: drop it, or drop --tls-cert and --tls-key"))
	case (c.Cert == "") != (c.Key == ""):
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both"))
	}
	if c.HandshakeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--tls-handshake-timeout must be positive, not %v", c.HandshakeTimeout))
	}
	if !c.on() {
		for _, a := range []struct{ flag, addr, def string }{
			{"chat-tls-addr", c.ChatAddr, defaultChatTLSAddr},
			{"irc-tls-addr", c.IRCAddr, defaultIRCTLSAddr},
			{"https-addr", c.HTTPSAddr, defaultHTTPSAddr},
			{"quote-tls-addr", c.QuoteAddr, ""},
			{"echo-tls-addr", c.EchoAddr, ""},
		} {
			if a.addr != "" && a.addr != a.def {
				errs = append(errs, fmt.Errorf("--%s needs a certificate: give --tls-cert and --tls-key, or --tls-self-signed", a.flag))
			}
		}
		if c.Admin {
			errs = append(errs, errors.New("--admin-tls needs a certificate: give --tls-cert and --tls-key, or --tls-self-signed"))
		}
	}
	return errs
}

// loadCerts loads the configured certificate, making the self-signed one first if asked to.
// Without a certificate it does nothing, and the TLS listeners stay off.
func (m *Main) loadCerts() error {
	c := m.cfg.TLS
	if !c.on() {
		return nil
	}
	certFile, keyFile := c.Cert, c.Key
	if c.SelfSigned {
		dir, err := m.cfg.dataDir()
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		hostname, _ := os.Hostname()
		var created bool
		certFile, keyFile, created, err = tlsconf.SelfSigned(dir, hostname, time.Now())
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		if created {
			m.log.Info("made a self-signed TLS certificate", "cert", certFile, "key", keyFile)
		}
	}
	certs, err := tlsconf.Load(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	m.certs = certs
	m.logCert("tls certificate")
	return nil
}

func (m *Main) logCert(msg string) {
	leaf := m.certs.Leaf()
	certFile, _ := m.certs.Files()
	m.log.Info(msg, "cert", certFile, "self_signed", m.cfg.TLS.SelfSigned, "subject", leaf.Subject.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "sha256", tlsconf.Fingerprint(leaf))
}

// reloadCerts reads the certificate files again (SIGHUP). A certificate that does not load
// leaves the old one in use. It reports whether it applied the files, and false with no
// certificate to reload.
func (m *Main) reloadCerts(next Config) (applied, failed bool) {
	if m.certs == nil || next.TLS.SelfSigned {
		return false, false
	}
	if err := m.certs.Reload(next.TLS.Cert, next.TLS.Key); err != nil {
		m.log.Error("reload: the TLS certificate does not load, the old one stays; fix the files and reload again", "err", err)
		return false, true
	}
	m.cfg.TLS.Cert, m.cfg.TLS.Key = next.TLS.Cert, next.TLS.Key
	m.logCert("reloaded the tls certificate")
	return true, false
}

// tlsOptions are how the listener called name serves TLS.
func (m *Main) tlsOptions(name string, plainText string) tlsconf.Options {
	var plain []byte // none for ""
	if plainText != "" {
		plain = []byte(plainText)
	}
	return tlsconf.Options{
		Config:           m.certs.Config(),
		Service:          name,
		HandshakeTimeout: m.cfg.TLS.HandshakeTimeout,
		Observer:         m.metrics,
		PlainText:        plain,
	}
}

// What a client that speaks plain text to a TLS port is told.
const (
	plainToChatTLS = "*** this port speaks TLS: connect with openssl s_client or ncat --ssl, or to the plain chat port\r\n"
	// An IRC client shows an ERROR line to its user before it sees the connection end.
	plainToServiceTLS = "this port speaks TLS: connect with openssl s_client or ncat --ssl, or to the plain port\r\n"
	plainToIRCTLS     = "ERROR :This port speaks TLS: turn TLS on in your client (irssi: /connect -tls; WeeChat: -ssl, or -tls from 4.0), or use the plain IRC port\r\n"
	plainToHTTPS      = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" +
		"This port speaks HTTPS: use an https:// address.\n"
)

// plainToTLS is what a client that speaks plain text to the TLS listener called name, whose
// door is d, is told: an HTTP answer on a web door, a line in the door's protocol on others.
func plainToTLS(name string, d door) string {
	switch {
	case d.web != nil:
		return plainToHTTPS
	case name == "irc-tls":
		return plainToIRCTLS
	case name == "quote-tls" || name == "echo-tls":
		return plainToServiceTLS
	}
	return plainToChatTLS
}

// httpsDoor is the public listener over TLS.
func (m *Main) httpsDoor(string) (door, error) { return m.webDoor(true) }
