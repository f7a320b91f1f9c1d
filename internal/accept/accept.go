// Package accept runs a TCP accept loop the way every hubbub service needs it: limits on
// connections in total and per address, a one-line refusal that says why, backing off instead
// of spinning when the process runs out of file descriptors, a recovered panic per connection,
// and a way to wait for every connection to end. HTTPListener brings servers with an accept
// loop of their own (net/http's) under the same limits.
package accept

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// Loop accepts connections and runs Handle for each on its own goroutine, closing the
// connection when Handle returns.
type Loop struct {
	service string
	limiter *Limiter
	log     *slog.Logger
	handle  func(net.Conn)

	quit     chan struct{} // closed by Close
	loopDone chan struct{} // closed when Serve returns
	handlers sync.WaitGroup

	mu      sync.Mutex
	ln      net.Listener          // guarded by mu
	closing bool                  // guarded by mu
	conns   map[net.Conn]*tracked // open connections; guarded by mu
}

// tracked is an open connection, as the loop keeps it until it is released. One map and one
// small struct per connection: a server holds tens of thousands of idle ones.
type tracked struct {
	c        net.Conn
	key      netip.Addr // the client the limiter counted it as
	kept     bool       // its handler called Keep; guarded by Loop.mu
	released bool       // Keep's release was called; guarded by Loop.mu
}

// New returns a Loop for the named service (used in logs) that calls handle for each accepted
// connection admitted by limiter. Services that share a limiter share its limits; a nil
// limiter admits everyone.
func New(service string, limiter *Limiter, log *slog.Logger, handle func(net.Conn)) *Loop {
	return &Loop{
		service:  service,
		limiter:  limiter,
		log:      log,
		handle:   handle,
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
		conns:    make(map[net.Conn]*tracked),
	}
}

// Serve accepts on ln until Close is called, then returns nil. It returns an error only when
// the listener fails in a way that retrying cannot fix.
func (l *Loop) Serve(ln net.Listener) error {
	defer close(l.loopDone)
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return ln.Close()
	}
	l.ln = ln
	l.mu.Unlock()

	// A spare descriptor, given up when the process runs out so that one waiting client can be
	// accepted and told the server is full, instead of waiting in the backlog for nothing.
	spare, _ := os.Open(os.DevNull)
	defer func() {
		if spare != nil {
			spare.Close()
		}
	}()

	var backoff time.Duration
	failing := false // logged once per run of failures, not once per failure
	for {
		c, err := ln.Accept()
		if err == nil {
			if failing {
				l.log.Info("accepting again", "service", l.service)
				failing = false
			}
			backoff = 0
			l.admit(c)
			continue
		}
		if l.isClosing() {
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("accept %s: %w", l.service, err)
		}
		refused := false
		if outOfFiles(err) && spare != nil {
			spare.Close()
			spare = nil
			if c, err := ln.Accept(); err == nil {
				l.limiter.refused(l.service, "out_of_files")
				l.refuse(c, "server full, try again later")
				refused = true
			}
			spare, _ = os.Open(os.DevNull)
		}
		if refused {
			// Progress: the next waiting client is told soon too.
			backoff = 5 * time.Millisecond
		} else {
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		}
		if !failing {
			l.log.Warn("accept failing, backing off", "service", l.service, "err", err)
			failing = true
		}
		select {
		case <-time.After(backoff):
		case <-l.quit:
			return nil
		}
	}
}

// Close stops accepting and returns once Serve has returned (or at once if Serve never ran).
// Open connections are left alone; see Wait and CloseConns.
func (l *Loop) Close() {
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		return
	}
	l.closing = true
	close(l.quit)
	ln := l.ln
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
		<-l.loopDone
	}
}

// Wait returns when every handler has returned, or with ctx's error when ctx ends first. Call it
// after Close.
func (l *Loop) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		l.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// The waiter goroutine ends when the handlers do; CloseConns makes that prompt.
		return ctx.Err()
	}
}

// Stop is the whole shutdown of a service with nothing to flush: stop accepting, close every
// connection, and wait (within ctx) for their handlers to return.
func (l *Loop) Stop(ctx context.Context) error {
	l.Close()
	l.CloseConns()
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("%s shutdown: %w", l.service, err)
	}
	return nil
}

// CloseConns closes every open connection, which makes their handlers return.
func (l *Loop) CloseConns() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		c.Close()
	}
}

func (l *Loop) isClosing() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closing
}

// admit starts a handler for c, or refuses c when a limit is reached.
func (l *Loop) admit(c net.Conn) {
	key, reason, refusal := l.limiter.acquire(remoteIP(c))
	var t *tracked
	if refusal == "" {
		l.mu.Lock()
		if l.closing {
			reason, refusal = "shutting_down", "server shutting down"
		} else {
			t = &tracked{c: c, key: key}
			l.conns[c] = t
			l.handlers.Add(1)
		}
		l.mu.Unlock()
		if refusal != "" {
			l.limiter.release(key)
		}
	}
	if refusal != "" {
		l.limiter.refused(l.service, reason)
		l.refuse(c, refusal)
		return
	}
	l.limiter.accepted(l.service)
	go l.run(t)
}

func (l *Loop) run(t *tracked) {
	c := t.c
	defer l.handlers.Done()
	defer func() {
		l.mu.Lock()
		kept := t.kept
		l.mu.Unlock()
		if !kept {
			l.release(t)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			l.log.Error("panic serving connection", "service", l.service, "remote", c.RemoteAddr().String(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	l.handle(c)
}

// Keep lets the handler of c return with c still open, for a service that waits for its
// connections' input without a goroutine each (lineproto's poller). The connection is closed,
// and its place in the limits given back, when release is called (once; later calls do
// nothing); until then Wait counts it as a handler still running, and CloseConns closes it.
// Only c's handler may call Keep, once.
func (l *Loop) Keep(c net.Conn) (release func()) {
	l.mu.Lock()
	t := l.conns[c]
	t.kept = true
	l.mu.Unlock()
	l.handlers.Add(1)
	return func() {
		l.mu.Lock()
		if t.released {
			l.mu.Unlock()
			return
		}
		t.released = true
		l.mu.Unlock()
		l.release(t)
		l.handlers.Done()
	}
}

// release closes t's connection and gives its place in the limits back.
func (l *Loop) release(t *tracked) {
	t.c.Close()
	l.mu.Lock()
	delete(l.conns, t.c)
	l.mu.Unlock()
	l.limiter.release(t.key)
	l.limiter.closed(l.service)
}

// refuse tells c why in one line and closes it. A stream over a socket (a TLS connection not
// yet handshaken) is refused on its socket, in plain text: a refusal must cost no handshake,
// nor wait for the client on the accept loop.
func (l *Loop) refuse(c net.Conn, reason string) {
	if s, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = s.NetConn()
	}
	l.log.Info("connection refused", "service", l.service, "remote", c.RemoteAddr().String(), "reason", reason)
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write([]byte("*** " + reason + "\r\n"))
	c.Close()
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// retryable reports accept errors that pass with time: no descriptors or memory for now, or a
// client that gave up before it was accepted.
func retryable(err error) bool {
	return outOfFiles(err) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR) ||
		errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EPROTO)
}
