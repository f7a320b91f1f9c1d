package accept

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// HTTP refusals: how long a refused client has to send its request and take the answer, and
// how many are answered at once. A client is told 503 only after its request has arrived:
// an answer that comes first is, to most clients, a broken connection. Past maxRefusing, a
// flood is not owed words, and refused connections are just closed.
const (
	refuseTimeout = 2 * time.Second
	maxRefusing   = 64
	maxRequest    = 8 << 10 // bytes of a refused request read before answering anyway
)

// HTTPListener is a net.Listener for net/http's accept loop whose connections count against a
// Limiter like every other service's. A connection over a limit is answered with a plain
// HTTP 503 that says why and closed, and Accept goes on to the next one; an admitted
// connection is uncounted when it is closed.
type HTTPListener struct {
	net.Listener
	service string
	limiter *Limiter
	log     *slog.Logger

	refusing sync.WaitGroup // goroutines answering refused connections, waited for by Close
	slots    chan struct{}  // one per refusal in progress

	mu     sync.Mutex
	closed bool // no refusal starts after Close; guarded by mu
}

// NewHTTPListener wraps ln for service (its name in metrics and logs).
func NewHTTPListener(ln net.Listener, service string, limiter *Limiter, log *slog.Logger) *HTTPListener {
	return &HTTPListener{Listener: ln, service: service, limiter: limiter, log: log, slots: make(chan struct{}, maxRefusing)}
}

// Accept returns the next connection within the limits.
func (l *HTTPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, reason, refusal := l.limiter.acquire(remoteIP(c))
		if refusal != "" {
			l.limiter.refused(l.service, reason)
			l.log.Info("connection refused", "service", l.service, "remote", c.RemoteAddr().String(), "reason", refusal)
			l.refuse(c, refusal)
			continue
		}
		l.limiter.accepted(l.service)
		return &limitedConn{Conn: c, l: l, key: key}, nil
	}
}

// Close stops accepting and waits for the refusals being answered.
func (l *HTTPListener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.refusing.Wait()
	return err
}

// refuse answers c's request with 503 and reason, then closes c, without holding up Accept.
func (l *HTTPListener) refuse(c net.Conn, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return
	}
	select {
	case l.slots <- struct{}{}:
	default:
		c.Close()
		return
	}
	l.refusing.Go(func() {
		defer func() { <-l.slots }()
		defer c.Close()
		c.SetDeadline(time.Now().Add(refuseTimeout))
		readRequestHead(c)
		c.Write(httpRefusal(reason))
	})
}

// readRequestHead reads until the end of an HTTP request's headers, maxRequest bytes, or an
// error (the deadline), whichever comes first.
func readRequestHead(c net.Conn) {
	buf := make([]byte, maxRequest)
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if bytes.Contains(buf[:n], []byte("\r\n\r\n")) || err != nil {
			return
		}
	}
}

// httpRefusal is a whole HTTP/1.1 503 response saying reason.
func httpRefusal(reason string) []byte {
	body := reason + "\n"
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Content-Length: %d\r\nConnection: close\r\nRetry-After: 5\r\n\r\n%s", len(body), body)
}

// limitedConn is an admitted connection, uncounted on its first Close.
type limitedConn struct {
	net.Conn
	l       *HTTPListener
	key     netip.Addr
	release sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release.Do(func() {
		c.l.limiter.release(c.key)
		c.l.limiter.closed(c.l.service)
	})
	return err
}

// SyscallConn passes through, so that a transport handed the connection (the WebSocket
// gateway) can wait for and write to the socket itself; closing still goes through Close.
func (c *limitedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite passes through, so that net/http can half-close a connection it ends.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
