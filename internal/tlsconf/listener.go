package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// DefaultHandshakeTimeout bounds a TLS handshake: a client that has not finished it by then is
// disconnected, so that a connection slot is not held by one that never will.
const DefaultHandshakeTimeout = 10 * time.Second

// Failure is why a TLS handshake failed: a closed set, so that it can be a metric label.
type Failure uint8

// The reasons a handshake fails.
const (
	FailTimeout  Failure = iota + 1 // the client did not finish in time (or never began)
	FailNotTLS                      // the client spoke something else: plain text, plain HTTP
	FailRejected                    // the client refused us, mostly our certificate (an alert)
	FailClosed                      // the client hung up before the end
	FailProtocol                    // anything else: no common version or cipher, a malformed message
)

// Failures lists every Failure, for metrics.
var Failures = []Failure{FailTimeout, FailNotTLS, FailRejected, FailClosed, FailProtocol}

// String returns the failure's metric label.
func (f Failure) String() string {
	switch f {
	case FailTimeout:
		return "timeout"
	case FailNotTLS:
		return "not_tls"
	case FailRejected:
		return "rejected"
	case FailClosed:
		return "closed"
	case FailProtocol:
		return "protocol"
	}
	return "other"
}

// Observer is told of failed handshakes, for metrics. Its method must be cheap and must not
// block: it runs on the connection's goroutine.
type Observer interface {
	HandshakeFailed(service string, why Failure)
}

// Options say how a service's TLS connections are served.
type Options struct {
	Config  *tls.Config // from Certs.Config
	Service string      // the service's name, for metrics and logs
	// HandshakeTimeout bounds each handshake; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	Observer         Observer // may be nil
	// PlainText, when set, is written to a client that spoke plain text to the TLS port (in
	// plain text), to say where it went wrong instead of just hanging up.
	PlainText []byte
}

func (o *Options) timeout() time.Duration {
	if o.HandshakeTimeout > 0 {
		return o.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// Listener puts TLS in front of the connections of another listener (which has applied the
// connection limits already). Accept does no handshake: a connection handshakes on its first
// Read or Write, on the goroutine that serves it, so one slow client never holds up the
// accept loop.
type Listener struct {
	net.Listener
	opts Options
}

// NewListener returns a Listener over ln.
func NewListener(ln net.Listener, opts Options) *Listener {
	return &Listener{Listener: ln, opts: opts}
}

// Accept returns the next connection, a *Conn that has not handshaken yet.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, &l.opts), nil
}

// Conn is a server's TLS connection whose handshake is bounded in time and counted when it
// fails. It is not a *tls.Conn, so that net/http leaves the handshake to it (net/http would
// log each failure); handlers then see no Request.TLS.
type Conn struct {
	*tls.Conn
	opts *Options
	once sync.Once
	err  error // of the handshake; set in once
}

// Server returns c as the server side of a TLS connection.
func Server(c net.Conn, opts *Options) *Conn {
	return &Conn{Conn: tls.Server(c, opts.Config), opts: opts}
}

// Handshake runs the handshake once, within the handshake timeout, and returns its error at
// every call. A failed handshake has closed the connection.
func (c *Conn) Handshake() error {
	c.once.Do(func() { c.err = c.handshake() })
	return c.err
}

func (c *Conn) handshake() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.timeout())
	defer cancel()
	err := c.Conn.HandshakeContext(ctx)
	if err == nil {
		return nil
	}
	why := classify(err)
	var rhe tls.RecordHeaderError
	if why == FailNotTLS && c.opts.PlainText != nil && errors.As(err, &rhe) && rhe.Conn != nil {
		rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		rhe.Conn.Write(c.opts.PlainText)
	}
	if c.opts.Observer != nil {
		c.opts.Observer.HandshakeFailed(c.opts.Service, why)
	}
	c.Conn.Close()
	return fmt.Errorf("tls handshake (%s): %w", why, err)
}

// Read handshakes first if that is still to do.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

// Write handshakes first if that is still to do.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// classify says why a handshake failed.
func classify(err error) Failure {
	var rhe tls.RecordHeaderError
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, syscall.ETIMEDOUT):
		return FailTimeout
	case errors.As(err, &rhe):
		return FailNotTLS
	case errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls's way of saying the client sent an alert.
		return FailRejected
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE):
		return FailClosed
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FailTimeout
	}
	return FailProtocol
}
