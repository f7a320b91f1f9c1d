package tlsconf

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
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
// is disconnected after the timeout and counted; one that speaks plain text is told so and
// counted.
func TestListenerHandshakes(t *testing.T) {
	obs := newFailures()
	addr := serveEcho(t, Options{Service: "test", HandshakeTimeout: 300 * time.Millisecond, Observer: obs,
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

	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte("alice\r\n"))
	plain.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(plain)
	if string(got) != "speak TLS\r\n" {
		t.Fatalf("plain-text client got %q", got)
	}
	if why := obs.next(t); why != FailNotTLS {
		t.Fatalf("plain-text client counted as %v", why)
	}
}
