// Package wsgateway is the WebSocket transport into the chat: a browser is one more client of
// the same chat, with the same names, rooms, commands, limits and history as a telnet user.
// Each WebSocket message is a small JSON object (docs/protocol.md), so that a page never parses
// the human text of the line transport. The rules a connection is held to (line rate, flood,
// register timeout, slow reader, close reasons) are connpolicy's, as on the line transport.
//
// Files: server.go accepts and shuts down; conn.go is one connection's life and its read
// loop; queue.go its output queue under the slow-reader rule; writer.go and pinger.go its two
// goroutines; socket.go the socket under the WebSocket; login.go the page's login.
//
// # Locking
//
// Server.mu → conn.mu: Shutdown holds the server's lock while it finishes each connection.
// conn.mu is taken under the chat's locks (Deliver and Drop are called by chat.Hub with its
// lock held: Hub.mu → conn.mu), so nothing under conn.mu calls into the chat, blocks, or
// closes the socket (finishLocked hands CloseNow to a goroutine).
package wsgateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
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
	cfg     Config
	hub     *chat.Hub
	limiter Limiter // nil: no limits
	tokens  Tokens  // nil: no logging in from the page (SetTokens)
	log     *slog.Logger
	obs     connpolicy.Observer
	refused refusals

	mu       sync.Mutex
	conns    map[*conn]struct{} // guarded by mu
	stopping bool               // guarded by mu
	handlers sync.WaitGroup

	// testSendBuffer, when set, is the size of each connection's kernel send buffer.
	testSendBuffer int
}

// NewServer returns a WebSocket server for hub, admitting the connections limiter allows
// (limiter may be nil).
func NewServer(cfg Config, hub *chat.Hub, limiter Limiter, log *slog.Logger) *Server {
	return &Server{cfg: cfg, hub: hub, limiter: limiter, log: log, obs: connpolicy.NoObserver{},
		conns: make(map[*conn]struct{})}
}

// SetObserver has the server tell obs what it does, as the line transport does (metrics). It
// must be called before the server serves.
func (s *Server) SetObserver(obs connpolicy.Observer) { s.obs = obs }

// ServeHTTP upgrades the request to a WebSocket and serves it until it ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
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
		defer s.limiter.Release("ws", remote)
	}

	login := s.loginOf(r)
	switch {
	case login.account != "":
		// Its expiry slides in the store as it is used: in the browser too, or a user who
		// comes back every day would be logged out 30 days after logging in.
		http.SetCookie(w, s.sessionCookie(r, login.token))
	case login.had && !login.failed:
		http.SetCookie(w, s.sessionCookie(r, "")) // it logs in no more: stop sending it
	}

	c := &conn{srv: s, remote: r.RemoteAddr, started: time.Now(), ending: make(chan struct{}),
		bucket: connpolicy.NewBucket(s.cfg.Limits)}
	c.wake = sync.NewCond(&c.mu)
	// The origin was checked above: Accept's own check would also let in any page whose origin
	// equals the Host header, which the page's site chooses.
	hw := &hijackWrapper{ResponseWriter: w, wrap: func(nc net.Conn) net.Conn {
		if tc, ok := nc.(*net.TCPConn); ok && s.testSendBuffer > 0 {
			tc.SetWriteBuffer(s.testSendBuffer)
		}
		c.nc = &progressConn{Conn: nc, timeout: s.cfg.WriteTimeout}
		return c.nc
	}}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.refused.note(s.log, r.RemoteAddr, r.Header.Get("Origin"), err.Error())
		return // Accept has answered
	}
	if c.nc == nil {
		ws.CloseNow()
		s.log.Error("websocket: the connection was not hijacked through the wrapper", "remote", r.RemoteAddr)
		return
	}
	ws.SetReadLimit(int64(s.cfg.MaxMessage))
	c.ws = ws
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve(remote, login)
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
	for c := range s.conns {
		c.Deliver(connpolicy.NoticeShutdown)
		c.finish(websocket.StatusGoingAway, connpolicy.ReasonShutdown, closeShutdown, true)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.ws.CloseNow()
		}
		s.mu.Unlock()
		<-done
		return fmt.Errorf("websocket shutdown: %w", ctx.Err())
	}
}
