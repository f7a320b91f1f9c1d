// Package wsgateway is the WebSocket transport into the chat: a browser is one more client of
// the same chat, with the same names, rooms, commands, limits and history as a telnet user.
// Each WebSocket message is a small JSON object (docs/protocol.md), so that a page never parses
// the human text of the line transport. The rules a connection is held to (line rate, flood,
// register timeout, slow reader, close reasons) are connpolicy's, as on the line transport.
//
// The WebSocket protocol is spoken here, over the hijacked socket, with github.com/gobwas/ws
// for the handshake and the frames' rules: a connection that has nothing to read or write
// holds no goroutine and no buffer. One epoll of the server's own (poller_linux.go) watches
// idle sockets, and a goroutine reads a socket only while it has input (read.go); one flusher
// writes every connection's frames with one writev each (writer.go), and a frame is made once
// for every browser that gets it (frame.go).
//
// Files: server.go upgrades and shuts down; conn.go is one connection's life and its close
// handshake; read.go its input, frame by frame; queue.go its output queue under the
// slow-reader rule; writer.go the flusher; pinger.go the pings; poller_linux.go the epoll;
// login.go the page's login.
//
// # Locking
//
// Server.mu → conn.mu → flusher.mu, and poller.mu → (nothing). Shutdown finishes each
// connection after it lets go of the server's lock. conn.mu is taken under the chat's locks
// (Deliver and Drop are called by chat.Hub with its lock held: Hub.mu → conn.mu), so nothing
// under conn.mu calls into the chat or blocks: closing under it only shuts the socket (a
// system call that does not wait), and the reader does the rest (conn.end).
package wsgateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

// Config holds the limits of the WebSocket transport: the limits every transport holds a
// client to (connpolicy.Limits, which lineproto takes too: a browser is held to the same rules
// as a telnet user), and what only a browser needs.
type Config struct {
	connpolicy.Limits
	MaxMessage int // longest message a client may send, in bytes: a line and the JSON around it
	// OriginPatterns are the origins (host[:port], path.Match patterns, or scheme://host[:port])
	// whose pages may connect, besides loopback ones. The Host header is not trusted: under DNS
	// rebinding another site's page sends its own name as Host.
	OriginPatterns []string
	// SecureCookies marks the session cookie Secure on every answer, not only on those to
	// requests that came over TLS here: set it when a TLS proxy serves the page (--public-url
	// https://...).
	SecureCookies bool
}

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config {
	l := connpolicy.DefaultLimits()
	return Config{Limits: l, MaxMessage: l.MaxLine + 64}
}

// Close frames' reasons the server sends, where a page shows them.
const (
	closeShutdown = "server shutting down"
	closeTimeout  = "timed out waiting for your name"
)

var noticeBadMessage = &chat.Message{Kind: chat.KindNotice, Text: `messages are {"type":"line","text":"..."}`}

// Limiter admits connections within the limits the server's other services share (see
// accept.Limiter): a browser counts like a telnet client.
type Limiter interface {
	Acquire(service string, addr netip.Addr) (refusal string)
	Release(service string, addr netip.Addr)
}

// Server accepts WebSocket connections at its ServeHTTP and joins them to a chat.
type Server struct {
	cfg         Config
	hub         *chat.Hub
	limiter     Limiter // nil: no limits
	tokens      Tokens  // nil: no logging in from the page (SetTokens)
	log         *slog.Logger
	obs         connpolicy.Observer
	refused     refusals
	flushers    *flush.Set[flushScratch] // one per processor, as on the line transport
	poll        *poller                  // nil where there is none: every connection is read as a stream
	lineTooLong *chat.Message

	mu       sync.Mutex
	conns    map[*conn]struct{} // guarded by mu
	stopping bool               // guarded by mu
	handlers sync.WaitGroup     // ServeHTTP calls
	live     sync.WaitGroup     // connections, until they end

	// testSendBuffer, when set, is the size of each connection's kernel send buffer, in place
	// of the bound on its unsent bytes (accept.LimitUnsent).
	testSendBuffer int
}

// NewServer returns a WebSocket server for hub, admitting the connections limiter allows
// (limiter may be nil).
func NewServer(cfg Config, hub *chat.Hub, limiter Limiter, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, hub: hub, limiter: limiter, log: log, obs: connpolicy.NoObserver{},
		conns:       make(map[*conn]struct{}),
		lineTooLong: &chat.Message{Kind: chat.KindNotice, Text: fmt.Sprintf("line too long (max %d bytes)", cfg.MaxLine)}}
	s.flushers = flush.NewSet[flushScratch](runtime.GOMAXPROCS(0), flush.Policy{})
	p, err := newPoller()
	if err != nil {
		log.Warn("websocket: no poller; each connection is read by a goroutine of its own", "err", err)
	} else {
		s.poll = p
	}
	return s
}

// SetObserver has the server tell obs what it does, as the line transport does (metrics). It
// must be called before the server serves.
func (s *Server) SetObserver(obs connpolicy.Observer) { s.obs = obs }

// ServeHTTP upgrades the request to a WebSocket and starts serving it. It returns once the
// connection is going: from then on the connection holds no goroutine while it is idle.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.flushers.Start()
	s.mu.Unlock()
	defer s.handlers.Done()

	if !s.originAllowed(r.Header.Get("Origin")) {
		s.refused.note(s.log, r.RemoteAddr, r.Header.Get("Origin"), "origin not allowed")
		http.Error(w, "pages from this origin may not connect (--ws-origins)", http.StatusForbidden)
		return
	}
	remote := remoteAddr(r.RemoteAddr)
	if s.limiter != nil {
		if refusal := s.limiter.Acquire("ws", remote); refusal != "" {
			http.Error(w, refusal, http.StatusServiceUnavailable)
			return
		}
	}
	released := false
	release := func() {
		if s.limiter != nil && !released {
			released = true
			s.limiter.Release("ws", remote)
		}
	}
	defer release() // unless the connection took it over

	login := s.loginOf(r)
	switch {
	case login.account != "":
		// Its expiry slides in the store as it is used: in the browser too, or a user who
		// comes back every day would be logged out 30 days after logging in.
		http.SetCookie(w, s.sessionCookie(r, login.token))
	case login.had && !login.failed:
		http.SetCookie(w, s.sessionCookie(r, "")) // it logs in no more: stop sending it
	}

	// The origin was checked above. No subprotocol, no extension (no compression): as before.
	// The header set on w (the cookie) goes with the answer.
	nc, brw, _, err := ws.HTTPUpgrader{Header: w.Header(), Timeout: s.cfg.WriteTimeout}.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		s.refused.note(s.log, r.RemoteAddr, r.Header.Get("Origin"), err.Error())
		return // the upgrader has answered
	}
	c := &conn{srv: s, flusher: s.flushers.Next(), sock: nc, under: nc, remote: r.RemoteAddr, addr: remote, started: time.Now(),
		ending: make(chan struct{}), bucket: connpolicy.NewBucket(s.cfg.Limits)}
	if o, ok := nc.(interface{ NetConn() net.Conn }); ok {
		c.under = o.NetConn()
	}
	// The kernel holds little unsent, so that a slow reader's backlog stays in its queue,
	// where the slow-reader rule reaches it (accept.UnsentLimit).
	if s.testSendBuffer > 0 {
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetWriteBuffer(s.testSendBuffer)
		}
	} else if err := accept.LimitUnsent(nc, accept.UnsentLimit(s.cfg.MaxQueue)); err != nil {
		s.log.Warn("websocket: set up connection", "remote", r.RemoteAddr, "err", err)
	}
	// A TCP socket, perhaps wrapped by the listener's limits (which pass its SyscallConn
	// through, and count its Close): read by the poller, written with writev. A TLS stream is
	// no syscall.Conn.
	if sc, ok := nc.(syscall.Conn); ok && s.poll != nil {
		if c.raw, err = sc.SyscallConn(); err != nil {
			c.raw = nil // read and written as a stream
		}
	}
	// What the client sent right after its request is in the handshake's buffer.
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		buffered, _ = brw.Reader.Peek(n)
		buffered = append([]byte(nil), buffered...)
	}
	s.mu.Lock()
	stopping := s.stopping
	s.conns[c] = struct{}{}
	s.live.Add(1)
	s.mu.Unlock()
	released = true // the connection releases it when it ends (forget)
	if stopping {
		c.Deliver(connpolicy.NoticeShutdown)
		c.finish(ws.StatusGoingAway, connpolicy.ReasonShutdown, closeShutdown, true)
	}
	c.start(login, buffered)
}

// forget is a connection's end: it is counted out.
func (s *Server) forget(c *conn) {
	if s.limiter != nil {
		s.limiter.Release("ws", c.addr)
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.live.Done()
}

func remoteAddr(hostport string) netip.Addr {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Shutdown tells every user the server is shutting down, closes their connections and waits
// for them to end, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Deliver(connpolicy.NoticeShutdown)
		c.finish(ws.StatusGoingAway, connpolicy.ReasonShutdown, closeShutdown, true)
		c.endGone()
	}
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		s.live.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.closeNow(connpolicy.ReasonShutdown)
		}
		s.mu.Unlock()
		<-done
		err = fmt.Errorf("websocket shutdown: %w", ctx.Err())
	}
	s.flushers.Close() // no flusher starts from now on
	if s.poll != nil {
		s.poll.close()
	}
	return err
}
