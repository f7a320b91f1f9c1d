// Package wsgateway is the WebSocket transport into the chat: a browser is one more client of
// the same chat, with the same names, rooms, commands, limits and history as a telnet user.
// Each WebSocket message is a small JSON object (docs/protocol.md), so that a page never parses
// the human text of the line transport.
package wsgateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
)

// Config holds the limits of the WebSocket transport. They mean what lineproto.Config's
// limits of the same names mean: a browser is held to the same rules as a telnet user.
type Config struct {
	MaxMessage int // longest message a client may send, in bytes
	// MaxQueue bounds the bytes queued to one client: past it the oldest queued room lines
	// (chat.Message.Skippable) are skipped and the client is told. Other output is still
	// queued, up to hardCapFactor times MaxQueue, past which private messages are skipped
	// too (the client is told from whom), and only a client that does not read the answers
	// to its own commands is dropped.
	MaxQueue        int
	WriteTimeout    time.Duration // a client that takes no data for this long is dropped
	RegisterTimeout time.Duration // time to choose a name; 0: none
	PingInterval    time.Duration // how often an idle connection is pinged; a missing pong drops it
	LineRate        float64       // messages per second a client may send; 0: no limit
	LineBurst       int           // messages that may be sent at once before LineRate applies
	FloodAfter      time.Duration // a client held back by LineRate this long without let-up is flooding; 0: never
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
	return Config{MaxMessage: 4096, MaxQueue: 256 << 10, WriteTimeout: 10 * time.Second,
		RegisterTimeout: 60 * time.Second, PingInterval: 30 * time.Second, LineRate: 10, LineBurst: 30,
		FloodAfter: 10 * time.Second}
}

// hardCapFactor times MaxQueue bounds what is queued to a client beyond what can be skipped
// at MaxQueue (private messages, answers to its own commands, a replay). Past it private
// messages are skipped as well, and a client whose answers alone pass it is dropped (see
// Deliver).
const hardCapFactor = 4

// Close codes and reasons the server ends connections with.
const (
	reasonShutdown     = "server shutting down"
	reasonSlowConsumer = "slow consumer"
	reasonTimeout      = "timed out waiting for your name"
)

var (
	noticeShutdown   = &chat.Message{Kind: chat.KindNotice, Text: reasonShutdown}
	noticeBadMessage = &chat.Message{Kind: chat.KindNotice, Text: `messages are {"type":"line","text":"..."}`}
)

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
	return &Server{cfg: cfg, hub: hub, limiter: limiter, log: log, conns: make(map[*conn]struct{})}
}

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

	c := &conn{srv: s, remote: r.RemoteAddr, started: time.Now(), ending: make(chan struct{})}
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
		c.Deliver(noticeShutdown)
		c.finish(websocket.StatusGoingAway, reasonShutdown, true)
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

// conn is one browser.
type conn struct {
	srv     *Server
	ws      *websocket.Conn
	nc      *progressConn // the socket under ws
	remote  string
	started time.Time
	session *chat.Session
	ending  chan struct{} // closed when it is told to end (finish)

	mu        sync.Mutex
	wake      *sync.Cond // signalled when out grows or the connection closes; uses mu
	out       []queued   // events not yet written, oldest first; guarded by mu
	outBytes  int        // bytes of the events in out; guarded by mu
	writing   bool       // the writer is writing what it took from out; guarded by mu
	closing   bool       // no more output is taken; guarded by mu
	closeCode websocket.StatusCode
	reason    string // why it ends, for the log and the close frame; guarded by mu
	flushLast bool   // send what is queued before closing; guarded by mu

	privSkipped *chat.PrivateSkips // private messages skipped, not yet told; nil: none; guarded by mu
	privTold    bool               // told of private messages skipped, and not caught up since; guarded by mu

	registered atomic.Bool    // the user has a name; set by the reader
	tasks      sync.WaitGroup // the connection's goroutines, waited for by serve
}

// queued is one event waiting for the writer.
type queued struct {
	b         []byte // the encoded event; nil for a skip notice
	skippable bool   // a room line the client may miss (chat.Message.Skippable)
	private   bool   // a private message to the client, from from (chat.Message.PrivateFrom)
	kept      bool   // a private message kept in history (chat.Message.ID != 0)
	from      string
	skipped   int // a notice that this many lines were skipped here
}

// Deliver queues m for the browser (chat.Client). It never blocks. A client that reads slower
// than others talk to it is not dropped for it: past MaxQueue the oldest room lines queued for
// it are skipped (skipLocked), past the hard cap the oldest private messages too
// (skipPrivatesLocked), as others can send it those without end. What is left past the hard
// cap is only what the client asked for itself (answers, each paged by the chat to fit well
// within MaxQueue): a client that asks for more than it reads, and no other, is dropped, so
// that what a connection holds in memory stays bounded.
func (c *conn) Deliver(m *chat.Message) {
	b := m.Encoded(jsonEncoding{})
	q := queued{b: b, skippable: m.Skippable()}
	if !q.skippable {
		q.from, q.private = m.PrivateFrom()
		q.kept = m.ID != 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.out = append(c.out, q)
	c.outBytes += len(b)
	if c.outBytes > c.srv.cfg.MaxQueue {
		c.skipLocked()
	}
	if hardCap := hardCapFactor * c.srv.cfg.MaxQueue; c.outBytes > hardCap {
		c.skipPrivatesLocked(hardCap)
		if c.outBytes > hardCap {
			c.finishLocked(websocket.StatusPolicyViolation, reasonSlowConsumer, false)
			return
		}
	}
	c.wake.Signal()
}

// skipPrivatesLocked leaves out the oldest private messages queued until the queue is within
// limit, and tallies whom they were from for the notice (see takeLocked). Only as many as
// that: each is something a person wrote to this client alone. c.mu must be held.
func (c *conn) skipPrivatesLocked(limit int) {
	n := len(c.out)
	kept := c.out[:0] // filtered in place, as in skipLocked
	for _, q := range c.out {
		if q.private && c.outBytes > limit {
			c.outBytes -= len(q.b)
			if c.privSkipped == nil {
				c.privSkipped = new(chat.PrivateSkips)
			}
			c.privSkipped.Add(q.from, q.kept)
			continue
		}
		kept = append(kept, q)
	}
	clear(c.out[len(kept):n])
	c.out = kept
}

// skipLocked leaves out the oldest skippable events until the queue is down to half its
// bound, and puts one notice where they were, saying how many. Going down to half, not just
// under the bound, means a reader that stays behind is told once per gap of many lines, not
// once per line. A notice still queued takes the count of a later gap: everything between the
// two is output that cannot be skipped. c.mu must be held.
func (c *conn) skipLocked() {
	target := c.srv.cfg.MaxQueue / 2
	n := len(c.out)
	kept := c.out[:0] // filtered in place: kept never grows past the element being read
	mark := -1        // index in kept of the skip notice
	skipped := 0
	for _, q := range c.out {
		switch {
		case q.skipped > 0 && mark >= 0:
			kept[mark].skipped += q.skipped
			continue
		case q.skipped > 0:
			mark = len(kept)
		case q.skippable && c.outBytes > target:
			c.outBytes -= len(q.b)
			skipped++
			if mark < 0 {
				mark = len(kept)
				kept = append(kept, queued{})
			}
			continue
		}
		kept = append(kept, q)
	}
	if skipped > 0 {
		kept[mark].skipped += skipped
	}
	clear(c.out[len(kept):n])
	c.out = kept
}

// skipNotice is the event that tells a client n lines were skipped for it.
func skipNotice(n int) []byte {
	lines := "lines"
	if n == 1 {
		lines = "line"
	}
	return jsonEncoding{}.Encode(&chat.Message{Kind: chat.KindNotice,
		Text: fmt.Sprintf("%d %s skipped: you read slower than this room talks; /history to catch up", n, lines)})
}

// takeLocked removes from the queue the oldest events, up to about maxBatch bytes (at least
// one), and returns them encoded, after notices of private messages skipped that are due.
// c.mu must be held.
//
// Private messages skipped are told as soon as there are some (where they were: they were the
// oldest queued), and, as the client has no other way to learn whose they were, those skipped
// after that are told too, once it has caught up: at most two notices in a stretch of falling
// behind, and none left out.
func (c *conn) takeLocked() [][]byte {
	var msgs [][]byte
	size := 0
	if p := c.privSkipped; p != nil && (!c.privTold || len(c.out) == 0) {
		for _, m := range p.Notices() {
			msgs = append(msgs, m.Encoded(jsonEncoding{}))
			size += len(msgs[len(msgs)-1])
		}
		c.privSkipped, c.privTold = nil, true
	}
	for len(c.out) > 0 {
		q := c.out[0]
		b := q.b
		if q.skipped > 0 {
			b = skipNotice(q.skipped)
		}
		if len(msgs) > 0 && size+len(b) > maxBatch {
			break
		}
		msgs = append(msgs, b)
		size += len(b)
		c.outBytes -= len(q.b)
		c.out[0] = queued{}
		c.out = c.out[1:]
	}
	if len(c.out) == 0 {
		c.out = nil // let the array go: an idle connection holds nothing
		if c.privSkipped == nil {
			c.privTold = false // caught up: told again should it fall behind again
		}
	}
	return msgs
}

// pendingLocked reports whether the writer has something to send. c.mu must be held.
func (c *conn) pendingLocked() bool {
	return len(c.out) > 0 || c.privSkipped != nil
}

// Drop ends the connection after what is queued is sent (chat.Client). The close frame says
// what the user was told (cut to fit, see closeReason), so that the page can show it.
func (c *conn) Drop(_ chat.DropReason, detail string) {
	c.finish(websocket.StatusPolicyViolation, detail, true)
}

// maxCloseReason is the most a close frame's reason may hold, in bytes (RFC 6455 5.5: a
// control frame's payload is at most 125 bytes, two of them the code).
const maxCloseReason = 123

// closeReason cuts reason to fit a close frame, at a character boundary: a longer one makes the
// library send no close frame at all, and the page could not say why it was closed.
func closeReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

func (c *conn) finish(code websocket.StatusCode, reason string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(code, reason, flush)
}

// finishLocked ends the connection with code and reason: after what is queued when flush is
// set, at once otherwise. c.mu must be held.
func (c *conn) finishLocked(code websocket.StatusCode, reason string, flush bool) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.reason, c.flushLast = true, code, reason, flush
	close(c.ending)
	if !flush {
		// Dropped at once: its writer may be stuck in a write the client does not read, and
		// nothing queued is worth waiting for. Not here, though: CloseNow can wait for the
		// library's goroutines, and this runs under the chat's lock.
		clear(c.out)
		c.out, c.outBytes, c.privSkipped = nil, 0, nil
		c.tasks.Go(func() { c.ws.CloseNow() })
	}
	c.wake.Signal()
}

// serve runs the connection: a writer goroutine, a pinger, and the reading loop here.
func (c *conn) serve(remote netip.Addr, login cookieLogin) {
	// Waited for last: finish starts its tasks before serve's own finish below, and none after.
	defer c.tasks.Wait()
	c.tasks.Go(c.writeLoop)
	c.tasks.Go(c.pingLoop)

	if err := c.connect(remote, login); err != nil {
		c.finish(websocket.StatusPolicyViolation, "banned", true)
	}
	if c.session.Registered() {
		c.registered.Store(true)
	}
	if t := c.srv.cfg.RegisterTimeout; t > 0 {
		timer := time.AfterFunc(t, func() {
			if !c.registered.Load() {
				c.Deliver(&chat.Message{Kind: chat.KindNotice, Text: reasonTimeout + ", goodbye"})
				c.finish(websocket.StatusPolicyViolation, reasonTimeout, true)
			}
		})
		defer timer.Stop()
	}
	c.readLoop()
	c.session.Close()
	// The reader stopped (the client closed, or the writer closed the connection): make sure
	// the writer stops too.
	c.finish(websocket.StatusNormalClosure, "client closed", false)
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	c.srv.log.Info("connection closed", "service", "ws", "remote", c.remote, "name", c.session.Name(),
		"duration", time.Since(c.started).Round(time.Millisecond), "reason", reason)
}

// connect joins the user to the chat: straight in as the account that the session cookie logs
// in to, or at the name prompt, first told when the cookie logs in no more.
func (c *conn) connect(remote netip.Addr, login cookieLogin) error {
	hub := c.srv.hub
	switch {
	case login.failed:
		c.Deliver(noticeTokenTrouble)
	case login.account != "":
		s, err := hub.Connect(c, chat.Peer{Addr: remote, Account: login.account, Token: login.id})
		switch {
		case err == nil:
			c.session = s
			c.queueEvent(eventLoggedIn(login.account))
			return nil
		case s != nil: // banned
			c.session = s
			return err
		case !errors.Is(err, chat.ErrNoAccount):
			c.srv.log.Error("web login: entering with a session cookie", "remote", c.remote, "err", err)
			c.Deliver(noticeTokenTrouble)
			return c.connectGuest(remote)
		}
		// The account is gone: so is the token.
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		defer cancel()
		if err := c.srv.tokens.RevokeToken(ctx, login.id); err != nil {
			c.srv.log.Warn("web login: revoking the token of an account gone", "remote", c.remote, "err", err)
		}
		c.queueEvent(eventLoggedOut)
	case login.had:
		c.queueEvent(eventLoggedOut)
	}
	return c.connectGuest(remote)
}

// connectGuest joins the user to the chat at the name prompt.
func (c *conn) connectGuest(remote netip.Addr) error {
	var err error
	c.session, err = c.srv.hub.Connect(c, chat.Peer{Addr: remote})
	return err
}

// queueEvent queues an event of the gateway's own (not a chat message) for the browser.
func (c *conn) queueEvent(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.out = append(c.out, queued{b: b})
	c.outBytes += len(b)
	c.wake.Signal()
}

// readLoop passes each message the browser sends to the chat, until the connection ends.
func (c *conn) readLoop() {
	bucket := newBucket(c.srv.cfg.LineRate, c.srv.cfg.LineBurst, c.srv.cfg.FloodAfter)
	for {
		// No deadline here: the register timer, the pinger and the writer end the connection,
		// which ends this read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if c.isClosing() {
			continue // what a client sends after it was told to go is ignored
		}
		// Every message counts against the line rate, a malformed one too: each gets an
		// answer, and a client must not make the server answer as fast as it can send.
		ok, flooding := bucket.take(c.ending)
		if !ok {
			return
		}
		if flooding {
			c.session.Flooding()
		}
		if typ != websocket.MessageText {
			c.finish(websocket.StatusUnsupportedData, "send JSON text messages", true)
			continue
		}
		var in input
		if err := json.Unmarshal(data, &in); err != nil || in.Type != "line" {
			c.Deliver(noticeBadMessage)
			continue
		}
		if err := c.session.Handle([]byte(in.Text)); errors.Is(err, chat.ErrQuit) {
			c.session.Close()
			c.finish(websocket.StatusNormalClosure, "quit", true)
		}
		if c.session.Registered() {
			c.registered.Store(true)
		}
	}
}

// busy reports whether the connection has output queued or being written.
func (c *conn) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked() || c.writing
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLoop writes queued events until the connection is finished, then closes it with its
// code and reason. A write has no deadline of its own: the socket's (progressConn) drops a
// client that takes no data for WriteTimeout, and only that, however long the write takes.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		for !c.pendingLocked() && !c.closing {
			c.wake.Wait()
		}
		if !c.pendingLocked() || (c.closing && !c.flushLast) {
			code, reason, flush := c.closeCode, c.reason, c.flushLast
			c.mu.Unlock()
			if flush {
				c.ws.Close(code, closeReason(reason))
			}
			return
		}
		// Events that queued up while the last write went out go in one message, as a JSON
		// array: one frame and one system call for many events, when the room is busy.
		msgs := c.takeLocked()
		c.writing = true
		c.mu.Unlock()
		msg := msgs[0]
		if len(msgs) > 1 {
			msg = batch(msgs)
		}
		err := c.ws.Write(context.Background(), websocket.MessageText, msg)
		c.mu.Lock()
		c.writing = false
		c.mu.Unlock()
		if err != nil {
			reason := "connection lost"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				reason = "write timeout"
			}
			c.finish(websocket.StatusPolicyViolation, reason, false)
			c.ws.CloseNow()
			return
		}
	}
}

// maxBatch bounds the bytes of events sent in one message.
const maxBatch = 64 << 10

// batch joins events into one JSON array.
func batch(events [][]byte) []byte {
	size := 1 + len(events)
	for _, e := range events {
		size += len(e)
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

// pingLoop pings the browser now and then: a connection that does not answer is dropped, so
// that a vanished client does not hold its name.
func (c *conn) pingLoop() {
	if c.srv.cfg.PingInterval <= 0 {
		return
	}
	t := time.NewTicker(c.srv.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ending:
			return
		case <-t.C:
		}
		if c.busy() {
			continue // the socket's write deadline watches a client that has output coming
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			if c.nc.progressSince(start) && !c.isClosing() {
				continue // the pong waits behind output the client is still reading
			}
			c.finish(websocket.StatusPolicyViolation, "no answer to ping", false)
			c.ws.CloseNow()
			return
		}
	}
}

// bucket paces what a client sends: rate per second, burst at once. A client held back
// without let-up for floodAfter is flooding.
type bucket struct {
	rate       float64
	burst      float64
	tokens     float64
	last       time.Time
	floodAfter time.Duration
	heldSince  time.Time // when the client was first held back in the current run; zero: not held
}

func newBucket(rate float64, burst int, floodAfter time.Duration) *bucket {
	return &bucket{rate: rate, burst: float64(max(burst, 1)), tokens: float64(max(burst, 1)), last: time.Now(),
		floodAfter: floodAfter}
}

// take waits for a token, or until done is closed (then ok is false). flooding says the
// client has been held back for floodAfter without let-up; it is said once per run.
func (b *bucket) take(done <-chan struct{}) (ok, flooding bool) {
	if b.rate <= 0 {
		return true, false
	}
	now := time.Now()
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*b.rate, b.burst)
	b.last = now
	if b.tokens >= 1 {
		b.heldSince = time.Time{}
	} else {
		if b.heldSince.IsZero() {
			b.heldSince = now
		} else if b.floodAfter > 0 && now.Sub(b.heldSince) > b.floodAfter {
			b.heldSince = time.Time{}
			flooding = true
		}
		t := time.NewTimer(time.Duration((1 - b.tokens) / b.rate * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return false, flooding
		}
		b.tokens, b.last = 1, time.Now()
	}
	b.tokens--
	return true, flooding
}
