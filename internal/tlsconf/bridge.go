package tlsconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hubbub/internal/accept"
)

// Service is a server behind a listener, as cmd/hubbub runs it.
type Service interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// lingerTimeout bounds how long a bridged connection that the service has ended waits for the
// client to hang up after being told (close_notify).
const lingerTimeout = 5 * time.Second

// bridgeBuf is the size of each direction's copy buffer.
const bridgeBuf = 4096

// Bridge serves through TLS a service that needs a kernel TCP socket of its own (the line
// transport reads and writes the socket's descriptor directly): it terminates TLS and relays
// each connection's plain bytes to the service over a loopback connection.
//
// It is a stopgap with a known cost: the service sees each client as coming from the loopback
// address, so what it does by address (bans, the limits on password guessing) treats every
// TLS client as one; and each client takes two more descriptors and two copies. The
// connection limits are applied here, by the client's real address, before the handshake.
// Once the service takes a net.Conn, serve it through a Listener instead.
type Bridge struct {
	inner        Service
	innerLn      net.Listener
	opts         Options
	writeTimeout time.Duration
	log          *slog.Logger
	loop         *accept.Loop

	innerDone chan struct{} // closed when the inner service's Serve returns
	serveOnce sync.Once

	mu       sync.Mutex
	innerErr error            // the inner service's Serve failed; guarded by mu
	relaying map[int]struct{} // local ports of the relays' connections to the service, not yet accepted; guarded by mu
}

// NewBridge returns a bridge to inner, which it will serve on a loopback listener of its own.
// limiter counts the clients (the inner service should count nobody, or each would count
// twice); writeTimeout bounds each write to a client.
func NewBridge(inner Service, opts Options, limiter *accept.Limiter, writeTimeout time.Duration, log *slog.Logger) (*Bridge, error) {
	innerLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: loopback listener for TLS: %w", opts.Service, err)
	}
	b := &Bridge{opts: opts, writeTimeout: writeTimeout, log: log, innerDone: make(chan struct{}), relaying: make(map[int]struct{})}
	b.inner, b.innerLn = inner, &relayOnly{Listener: innerLn, b: b}
	b.loop = accept.New(opts.Service, limiter, log, b.relay)
	return b, nil
}

// relayOnly is the service's loopback listener, which lets in only the bridge's relays: any
// local process may connect to it, and would bypass TLS and the connection limits.
type relayOnly struct {
	net.Listener
	b *Bridge
}

func (l *relayOnly) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && a.IP.IsLoopback() && l.b.accepted(a.Port) {
			return c, nil
		}
		c.Close()
	}
}

// accepted reports whether port is a relay's, which the listener now accepts.
func (b *Bridge) accepted(port int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.relaying[port]
	delete(b.relaying, port)
	return ok
}

// dialService connects a relay to the service. The socket is bound before it connects, so
// that its port is known to relayOnly before the service can accept it.
func (b *Bridge) dialService() (net.Conn, error) {
	port := 0
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, raw syscall.RawConn) error {
		var err error
		cerr := raw.Control(func(fd uintptr) {
			if err = unix.Bind(int(fd), &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
				return
			}
			var sa unix.Sockaddr
			if sa, err = unix.Getsockname(int(fd)); err == nil {
				port = sa.(*unix.SockaddrInet4).Port
			}
		})
		if err = errors.Join(cerr, err); err != nil {
			return fmt.Errorf("bind: %w", err)
		}
		b.mu.Lock()
		b.relaying[port] = struct{}{}
		b.mu.Unlock()
		return nil
	}}
	c, err := d.Dial("tcp4", b.innerLn.Addr().String())
	if err != nil && port != 0 {
		b.accepted(port) // forget it
	}
	return c, err
}

// Serve accepts TLS clients on ln until Shutdown.
func (b *Bridge) Serve(ln net.Listener) error {
	b.serveOnce.Do(func() {
		go func() {
			defer close(b.innerDone)
			if err := b.inner.Serve(b.innerLn); err != nil {
				b.mu.Lock()
				b.innerErr = err
				b.mu.Unlock()
				b.loop.Close()
			}
		}()
	})
	err := b.loop.Serve(ln)
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(err, b.innerErr)
}

// Shutdown stops accepting, has the service end its connections as it does (telling users,
// sending what is queued) through the relays, and waits for the relays to end.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.loop.Close()
	err := b.inner.Shutdown(ctx)
	b.innerLn.Close() // when Serve never ran, the service never owned it
	b.serveOnce.Do(func() { close(b.innerDone) })
	if werr := b.loop.Wait(ctx); werr != nil {
		b.loop.CloseConns()
		b.loop.Wait(context.Background())
		err = errors.Join(err, fmt.Errorf("%s shutdown: %w", b.opts.Service, werr))
	}
	select {
	case <-b.innerDone:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("%s shutdown: %w", b.opts.Service, ctx.Err()))
	}
	return err
}

// relay serves one client: the handshake, then its bytes both ways until either side ends.
// The accept loop closes c when it returns.
func (b *Bridge) relay(c net.Conn) {
	tc := Server(c, &b.opts)
	if tc.Handshake() != nil {
		return // counted
	}
	defer tc.Close()
	in, err := b.dialService()
	if err != nil {
		b.log.Error("cannot reach the service behind TLS", "service", b.opts.Service, "err", err)
		return
	}
	defer in.Close()
	fromClient := make(chan struct{})
	go func() {
		defer close(fromClient)
		// Plain io.Writer and io.Reader: a *net.TCPConn's ReadFrom and WriteTo would copy
		// through buffers of their own, eight times the size.
		io.CopyBuffer(struct{ io.Writer }{in}, struct{ io.Reader }{tc}, make([]byte, bridgeBuf))
		in.(*net.TCPConn).CloseWrite() // the client is done: the service sees it hang up
	}()
	io.CopyBuffer(deadlineWriter{tc, b.writeTimeout}, struct{ io.Reader }{in}, make([]byte, bridgeBuf))
	// The service is done: tell the client (close_notify and FIN), give it a moment to hang
	// up, then stop reading it.
	tc.SetWriteDeadline(time.Now().Add(time.Second))
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(lingerTimeout))
	<-fromClient
}

// deadlineWriter writes to a connection with a deadline on each write, so that a client that
// stops reading cannot hold its relay forever.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		if err := w.c.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
			return 0, err
		}
	}
	return w.c.Write(p)
}
