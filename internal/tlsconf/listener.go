package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
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
	raw   net.Conn // the client's connection, under the TLS
	watch *watcher // of raw, for the handshake
	opts  *Options
	once  sync.Once
	err   error // of the handshake; set in once
}

// Server returns c as the server side of a TLS connection.
func Server(c net.Conn, opts *Options) *Conn {
	w := &watcher{Conn: c}
	return &Conn{Conn: tls.Server(w, opts.Config), raw: c, watch: w, opts: opts}
}

// NetConn returns the connection under the TLS (not the watcher between them), so that what
// reaches through a TLS connection to its socket finds it.
func (c *Conn) NetConn() net.Conn { return c.raw }

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
	c.watch.off = true
	if err == nil {
		return nil
	}
	why := classify(err)
	if c.watch.notTLS {
		why = FailNotTLS
	}
	if why != FailTimeout && why != FailNotTLS {
		switch c.watch.answeredWithAlert() {
		case alertCloseNotify:
			why = FailClosed
		case alertOther:
			why = FailRejected
		}
	}
	if why == FailNotTLS && c.opts.PlainText != nil {
		c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		c.raw.Write(c.opts.PlainText)
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

// watcher sees the records a client sends during the handshake, as crypto/tls reads them, to
// tell a client that refused the handshake from one that sent something broken.
//
// A client that refuses our certificate over TLS 1.3 says so with an alert, and OpenSSL (and so
// openssl s_client, curl, Python's ssl) sends that alert in plain text: it checks the
// certificate as it reads it, before our Finished, and switches what it writes to the
// handshake's keys only when it sends its own Finished. Having sent its whole flight, the
// server reads with those keys, so crypto/tls takes the 2-byte alert for a record that failed
// to decrypt ("local error: tls: bad record MAC") and never says what the client sent. The
// watcher remembers the first record the client began after our last write (a
// change_cipher_spec aside, which TLS 1.3 sends for middleboxes and ignores): when that is a
// well-formed plain alert, the client answered our flight by refusing it. Anything else that
// fails to decrypt stays a protocol failure.
type watcher struct {
	net.Conn
	// writes counts our writes; Write may run on another goroutine than Read (a Close that
	// sends close_notify), hence atomic. Everything else is the reader's.
	writes atomic.Uint64
	// off is set once the handshake is over: the watcher then only passes bytes through. It is
	// written before Handshake returns, which every later Read waits for.
	off bool

	head   [recordHeaderLen + 2]byte // the start of the record being read: header, alert body
	begun  bool                      // the client sent its first byte
	notTLS bool                      // which began no handshake record
	pos    int                       // bytes of that record read so far
	seen   uint64                    // writes.Load() when the last record that counts began
	first  bool                      // the record being read is the first since our last write
	answer [recordHeaderLen + 2]byte // the start of the first record since our last write
	nAns   int                       // bytes of answer held; 0 when there is none
}

const (
	recordHeaderLen        = 5
	recordChangeCipherSpec = 20
	recordAlert            = 21
	recordHandshake        = 22
)

// errNotTLS ends a handshake whose client's first byte begins no handshake record: it speaks
// something else, and is told so at once rather than once it has sent a record header's five
// bytes (a short word typed into nc, "hi", waited out the handshake timeout in silence).
var errNotTLS = errors.New("the client's first byte begins no TLS handshake record")

// What the client answered our last flight with.
const (
	alertNone        = iota // no alert: another record, or nothing
	alertCloseNotify        // a plain close_notify: the client hung up
	alertOther              // a plain alert of any other kind: the client refused
)

func (w *watcher) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if !w.off {
		if !w.begun && n > 0 {
			w.begun = true
			if b[0] != recordHandshake {
				w.notTLS = true
				return 0, errNotTLS
			}
		}
		w.see(b[:n])
	}
	return n, err
}

// NetConn returns the connection watched, for what looks for the socket under a *tls.Conn.
func (w *watcher) NetConn() net.Conn { return w.Conn }

func (w *watcher) Write(b []byte) (int, error) {
	w.writes.Add(1)
	return w.Conn.Write(b)
}

// see follows the record boundaries in what the client sent.
func (w *watcher) see(b []byte) {
	for len(b) > 0 {
		if w.pos < len(w.head) && (w.pos < recordHeaderLen || w.pos < w.size()) {
			w.head[w.pos] = b[0]
			w.pos++
			b = b[1:]
			if w.pos == 1 && w.head[0] != recordChangeCipherSpec {
				writes := w.writes.Load()
				w.first = writes != w.seen
				w.seen = writes
			}
		} else {
			k := min(len(b), w.size()-w.pos)
			w.pos += k
			b = b[k:]
		}
		if w.pos >= recordHeaderLen && w.pos == w.size() {
			if w.first {
				w.nAns = copy(w.answer[:], w.head[:min(w.pos, len(w.head))])
			}
			w.pos, w.first = 0, false
		}
	}
}

// size is the whole length of the record being read, once its header is.
func (w *watcher) size() int {
	return recordHeaderLen + (int(w.head[3])<<8 | int(w.head[4]))
}

// answeredWithAlert says whether the first record the client sent after our last flight was a
// plain alert (record version 3.1 to 3.3, two bytes: a level, warning or fatal, and a
// description), and which.
func (w *watcher) answeredWithAlert() int {
	a := w.answer
	if w.nAns != len(a) || a[0] != recordAlert || a[1] != 3 || a[2] < 1 || a[2] > 3 ||
		a[3] != 0 || a[4] != 2 || (a[5] != 1 && a[5] != 2) {
		return alertNone
	}
	if a[6] == 0 {
		return alertCloseNotify
	}
	return alertOther
}
