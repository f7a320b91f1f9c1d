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
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
)

// Config holds the limits of the WebSocket transport.
type Config struct {
	MaxMessage      int           // longest message a client may send, in bytes
	MaxQueue        int           // bytes queued to one client before it is dropped as too slow
	WriteTimeout    time.Duration // a write taking longer drops the client
	RegisterTimeout time.Duration // time to choose a name; 0: none
	PingInterval    time.Duration // how often an idle connection is pinged; a missing pong drops it
	LineRate        float64       // messages per second a client may send; 0: no limit
	LineBurst       int
	OriginPatterns  []string // origins besides the server's own host allowed to connect
}

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config {
	return Config{MaxMessage: 4096, MaxQueue: 256 << 10, WriteTimeout: 10 * time.Second,
		RegisterTimeout: 60 * time.Second, PingInterval: 30 * time.Second, LineRate: 10, LineBurst: 30}
}

// Close codes and reasons the server ends connections with.
const (
	reasonShutdown     = "server shutting down"
	reasonSlowConsumer = "slow consumer"
	reasonTimeout      = "timed out waiting for your name"
)

var noticeShutdown = &chat.Message{Kind: chat.KindNotice, Text: reasonShutdown}

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
	log     *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{} // guarded by mu
	stopping bool               // guarded by mu
	handlers sync.WaitGroup
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

	remote := remoteAddr(r.RemoteAddr)
	if s.limiter != nil {
		if refusal := s.limiter.Acquire("ws", remote); refusal != "" {
			http.Error(w, refusal, http.StatusServiceUnavailable)
			return
		}
		defer s.limiter.Release("ws", remote)
	}

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.log.Info("websocket refused", "remote", r.RemoteAddr, "err", err)
		return // Accept has answered
	}
	ws.SetReadLimit(int64(s.cfg.MaxMessage))
	c := &conn{srv: s, ws: ws, remote: r.RemoteAddr, started: time.Now(), ending: make(chan struct{})}
	c.wake = sync.NewCond(&c.mu)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve(remote)
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
	remote  string
	started time.Time
	session *chat.Session
	ending  chan struct{} // closed when it is told to end (finish)

	mu        sync.Mutex
	wake      *sync.Cond // signalled when out grows or the connection closes; uses mu
	out       [][]byte   // encoded events not yet written; guarded by mu
	outBytes  int        // guarded by mu
	closing   bool       // no more output is taken; guarded by mu
	closeCode websocket.StatusCode
	reason    string // why it ends, for the log and the close frame; guarded by mu
	flushLast bool   // send what is queued before closing; guarded by mu

	registered atomic.Bool    // the user has a name; set by the reader
	tasks      sync.WaitGroup // the connection's goroutines, waited for by serve
}

// Deliver queues m for the browser (chat.Client). It never blocks.
func (c *conn) Deliver(m *chat.Message) {
	b := m.Encoded(jsonEncoding{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.outBytes+len(b) > c.srv.cfg.MaxQueue {
		c.finishLocked(websocket.StatusPolicyViolation, reasonSlowConsumer, false)
		return
	}
	c.out = append(c.out, b)
	c.outBytes += len(b)
	c.wake.Signal()
}

// Drop ends the connection after what is queued is sent (chat.Client). The close frame says
// what the user was told, so that the page can show it.
func (c *conn) Drop(_ chat.DropReason, detail string) {
	c.finish(websocket.StatusPolicyViolation, detail, true)
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
		c.out, c.outBytes = nil, 0
		c.tasks.Go(func() { c.ws.CloseNow() })
	}
	c.wake.Signal()
}

// serve runs the connection: a writer goroutine, a pinger, and the reading loop here.
func (c *conn) serve(remote netip.Addr) {
	// Waited for last: finish starts its tasks before serve's own finish below, and none after.
	defer c.tasks.Wait()
	c.tasks.Go(c.writeLoop)
	c.tasks.Go(c.pingLoop)

	var err error
	c.session, err = c.srv.hub.Connect(c, remote)
	if err != nil {
		c.finish(websocket.StatusPolicyViolation, "banned", true)
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

// readLoop passes each message the browser sends to the chat, until the connection ends.
func (c *conn) readLoop() {
	bucket := newBucket(c.srv.cfg.LineRate, c.srv.cfg.LineBurst)
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
		if typ != websocket.MessageText {
			c.finish(websocket.StatusUnsupportedData, "send JSON text messages", true)
			continue
		}
		var in input
		if err := json.Unmarshal(data, &in); err != nil || in.Type != "line" {
			c.Deliver(&chat.Message{Kind: chat.KindNotice, Text: `messages are {"type":"line","text":"..."}`})
			continue
		}
		if !bucket.take(c.ending) {
			return
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

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// writeLoop writes queued events until the connection is finished, then closes it with its
// code and reason.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		for len(c.out) == 0 && !c.closing {
			c.wake.Wait()
		}
		out := c.out
		c.out, c.outBytes = nil, 0
		closing, code, reason := c.closing, c.closeCode, c.reason
		c.mu.Unlock()
		// Events that queued up while the last write went out go in one message, as a JSON
		// array: one frame and one system call for many events, when the room is busy.
		for len(out) > 0 {
			msg := out[0]
			n := 1
			if len(out) > 1 {
				msg, n = batch(out, maxBatch)
			}
			out = out[n:]
			ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.finish(websocket.StatusPolicyViolation, "write timeout", false)
				c.ws.CloseNow()
				return
			}
		}
		if closing {
			c.ws.Close(code, reason)
			return
		}
	}
}

// maxBatch bounds the bytes of events sent in one message.
const maxBatch = 64 << 10

// batch joins the first events of out, up to about max bytes (at least one), into a JSON
// array, and says how many it took.
func batch(out [][]byte, max int) ([]byte, int) {
	b := []byte{'['}
	n := 0
	for n < len(out) && (n == 0 || len(b)+len(out[n]) < max) {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, out[n]...)
		n++
	}
	return append(b, ']'), n
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
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			c.finish(websocket.StatusPolicyViolation, "no answer to ping", false)
			c.ws.CloseNow()
			return
		}
	}
}

// bucket paces what a client sends: rate per second, burst at once.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(max(burst, 1)), tokens: float64(max(burst, 1)), last: time.Now()}
}

// take waits for a token, or until done is closed (then it reports false).
func (b *bucket) take(done <-chan struct{}) bool {
	if b.rate <= 0 {
		return true
	}
	now := time.Now()
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*b.rate, b.burst)
	b.last = now
	if b.tokens < 1 {
		t := time.NewTimer(time.Duration((1 - b.tokens) / b.rate * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
			return false
		}
		b.tokens, b.last = 1, time.Now()
	}
	b.tokens--
	return true
}
