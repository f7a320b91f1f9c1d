package tlsconf

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// failures records the handshake failures it is told of.
type failures struct{ ch chan Failure }

func newFailures() *failures { return &failures{ch: make(chan Failure, 16)} }

func (f *failures) HandshakeFailed(service string, why Failure) { f.ch <- why }

func (f *failures) next(t *testing.T) Failure {
	t.Helper()
	select {
	case why := <-f.ch:
		return why
	case <-time.After(20 * time.Second):
		t.Fatal("no handshake failure was counted")
		return 0
	}
}

// serveEcho runs a Listener on 127.0.0.1:0 whose connections echo lines, and returns its
// address.
func serveEcho(t *testing.T, opts Options) string {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := writePair(t, dir, "c", time.Now().Add(-time.Hour), time.Hour*48)
	certs, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	opts.Config = certs.Config()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, opts)
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	return raw.Addr().String()
}

// TestListenerHandshakes: a TLS client is served; a client that never begins its handshake
// is disconnected after the timeout and counted; one that speaks plain text is told so at
// once and counted.
func TestListenerHandshakes(t *testing.T) {
	obs := newFailures()
	addr := serveEcho(t, Options{Service: "test", HandshakeTimeout: 300 * time.Millisecond, Observer: obs,
		PlainText: []byte("speak TLS\r\n")})
	patientObs := newFailures()
	patient := serveEcho(t, Options{Service: "test", HandshakeTimeout: time.Hour, Observer: patientObs,
		PlainText: []byte("speak TLS\r\n")})

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	c.Close()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if why := obs.next(t); why != FailTimeout {
		t.Fatalf("silent client counted as %v", why)
	}
	silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatalf("silent client read %d bytes and is still connected", n)
	}

	// Told at once, however little it sent: the handshake timeout is far off. (A first byte
	// that could begin a TLS record is no plain text yet: "\x16" is not tried.)
	for _, said := range []string{"alice\r\n", "hi\n", "x", "GET / HTTP/1.1\r\n\r\n", "\x80\x00"} {
		plain, err := net.Dial("tcp", patient)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		plain.Write([]byte(said))
		plain.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, _ := io.ReadAll(plain)
		if string(got) != "speak TLS\r\n" {
			t.Fatalf("plain-text client that said %q got %q", said, got)
		}
		if why := patientObs.next(t); why != FailNotTLS {
			t.Fatalf("plain-text client that said %q counted as %v", said, why)
		}
	}
}

// swapAfterHello is a client's connection that sends its first write (the ClientHello) as it is,
// then instead of its next flight sends instead, and nothing after that.
type swapAfterHello struct {
	net.Conn
	instead []byte
	writes  int
}

func (c *swapAfterHello) Write(b []byte) (int, error) {
	c.writes++
	switch c.writes {
	case 1:
		return c.Conn.Write(b)
	case 2:
		if _, err := c.Conn.Write(c.instead); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// TestListenerCountsRefusals: a client that refuses our certificate is counted as rejected,
// whether crypto/tls hears its alert as an alert (TLS 1.2, or Go's client over TLS 1.3, which
// encrypts it) or as a record that fails to decrypt (OpenSSL over TLS 1.3 sends it in plain
// text); a client that answers our flight with anything else broken is counted as protocol,
// and one that answers with a plain close_notify as closed.
func TestListenerCountsRefusals(t *testing.T) {
	obs := newFailures()
	addr := serveEcho(t, Options{Service: "test", Observer: obs})
	dial := func(t *testing.T, cfg *tls.Config, instead []byte) {
		t.Helper()
		raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		var nc net.Conn = raw
		if instead != nil {
			nc = &swapAfterHello{Conn: raw, instead: instead}
		}
		c := tls.Client(nc, cfg)
		err = c.Handshake()
		if instead == nil && err == nil {
			t.Fatal("the client accepted a certificate it does not trust")
		}
		if instead != nil {
			// The server hears what was sent instead of the client's Finished: it says
			// nothing more, and hangs up.
			n, err := raw.Read(make([]byte, 512))
			for err == nil && n > 0 {
				n, err = raw.Read(make([]byte, 512))
			}
		}
	}
	untrusting := func(version uint16) *tls.Config {
		return &tls.Config{MinVersion: version, MaxVersion: version, ServerName: "localhost", RootCAs: x509.NewCertPool()}
	}
	trusting := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	openssl := func(args ...string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if _, err := exec.LookPath("openssl"); err != nil {
				t.Skip("openssl is not installed (.ci/run installs it)")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_client", "-verify_return_error", "-connect", addr}, args...)...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "verify error") {
				t.Fatalf("openssl did not refuse the certificate (%v):\n%s", err, out)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		client func(t *testing.T)
		want   Failure
	}{
		{"Go's client refuses the certificate over TLS 1.3", func(t *testing.T) { dial(t, untrusting(tls.VersionTLS13), nil) }, FailRejected},
		{"Go's client refuses the certificate over TLS 1.2", func(t *testing.T) { dial(t, untrusting(tls.VersionTLS12), nil) }, FailRejected},
		{"openssl refuses the certificate over TLS 1.3", openssl("-tls1_3"), FailRejected},
		{"openssl refuses the certificate over TLS 1.3 without middlebox compatibility", openssl("-tls1_3", "-no_middlebox"), FailRejected},
		{"openssl refuses the certificate over TLS 1.2", openssl("-tls1_2"), FailRejected},
		// What OpenSSL sends, by hand: a plain fatal bad_certificate alert.
		{"a plain alert instead of Finished", func(t *testing.T) { dial(t, trusting, []byte{21, 3, 3, 0, 2, 2, 42}) }, FailRejected},
		{"a plain close_notify instead of Finished", func(t *testing.T) { dial(t, trusting, []byte{21, 3, 3, 0, 2, 1, 0}) }, FailClosed},
		{"a short record that does not decrypt", func(t *testing.T) { dial(t, trusting, []byte{23, 3, 3, 0, 2, 2, 42}) }, FailProtocol},
		{"a record that does not decrypt", func(t *testing.T) {
			dial(t, trusting, append([]byte{23, 3, 3, 0, 40}, bytes.Repeat([]byte{0x5a}, 40)...))
		}, FailProtocol},
		{"an alert of no level", func(t *testing.T) { dial(t, trusting, []byte{21, 3, 3, 0, 2, 7, 42}) }, FailProtocol},
		{"an alert record of three bytes", func(t *testing.T) { dial(t, trusting, []byte{21, 3, 3, 0, 3, 2, 42, 0}) }, FailProtocol},
		{"a plain handshake record", func(t *testing.T) { dial(t, trusting, []byte{22, 3, 3, 0, 4, 20, 0, 0, 0}) }, FailProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.client(t)
			if why := obs.next(t); why != tc.want {
				t.Fatalf("counted as %v, want %v", why, tc.want)
			}
		})
	}
}
