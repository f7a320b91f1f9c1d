// Package lineproto is the TCP line transport of the chat: what telnet and nc users connect
// to. It frames lines (a Decoder; telnet's by default, see Framing), queues each connection's
// output in a bounded buffer written by one writev per wakeup, holds every connection to the
// rules of connpolicy (line rate, flood, register timeout, slow reader, close reasons), and
// feeds every line to the chat domain, which it knows only through chat.Hub and chat.Session.
// Another line protocol (IRC) reuses this engine with a Framing of its own. An idle TCP
// connection holds no goroutine: it waits in the server's poller (poller.go).
//
// # Locking
//
// Locks are taken in this order, never the other way:
//
//	chat.Hub.mu → conn.mu → flusher.mu   (the chat delivers under its lock; write and finish add to the flusher)
//	Server.mu → conn.mu                   (Shutdown finishes every connection)
//
// conn.mu guards the connection's queue, its connpolicy.Backlog, its state and its writer; no
// call into the chat is made under it. poller.mu (the poller's ids) is taken alone. The flusher's goroutine takes conn.mu and then, once it
// has let go of it, flusher.mu; socket writes happen under neither.
package lineproto

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

// Config holds the limits of the line transport: the limits every transport holds a client
// to (connpolicy.Limits; PingInterval does not apply here). Each has a flag in cmd/hubbub.
type Config = connpolicy.Limits

// DefaultConfig returns the defaults documented in the README and in --help.
func DefaultConfig() Config { return connpolicy.DefaultLimits() }

// Framing is the wire format of a line transport: how what a client sends becomes lines, and
// how chat messages become bytes. The TCP engine (flushers, queues, limits) is the same for
// every framing, so that another line protocol (IRC) reuses it with its own.
type Framing struct {
	// NewDecoder returns the decoder of one connection, for lines of at most maxLine bytes.
	NewDecoder func(maxLine int) Decoder
	// Encoder renders chat messages; it must be one comparable value for all connections,
	// as chat.Message.Encoded caches by it: a chat.Format made once finds its bytes quickest.
	Encoder chat.Encoder
	// Service names the listener in logs and metrics ("chat" when empty).
	Service string
	// NewSession, when set, starts each connection's conversation in place of chat.Hub.Connect:
	// a protocol with verbs (IRC) registers with the chat itself, when its client has said
	// enough, and delivers what the chat says through c.
	NewSession func(c *Conn) (Session, error)
	// PingInterval, when not 0 and the Session is a Pinger, is how long a registered
	// connection may send nothing before it is pinged; as long again without a line and it
	// is closed (connpolicy.ReasonPingTimeout).
	PingInterval time.Duration
	// QuietTooLong: the Session's TooLong tells the client its line was too long (IRC's 417),
	// and the engine says nothing of its own.
	QuietTooLong bool
}

// Session is what the read loop feeds a connection's lines to: a *chat.Session, or a
// protocol's own conversation (Framing.NewSession) that drives one.
type Session interface {
	// Handle acts on one line; chat.ErrQuit ends the connection once what is queued is sent.
	Handle(line []byte) error
	// Registered reports whether the client is past its registration (its deadline stops).
	Registered() bool
	// Name is the client's name, for the log.
	Name() string
	// TooLong is told that the client sent a line longer than MaxLine.
	TooLong()
	// Close ends the conversation: the connection is gone. It may be called more than once.
	Close()
	connpolicy.Flooder
}

// Pinger is a Session that can ask its client whether it is still there.
type Pinger interface {
	// Ping sends the client something it must answer with a line.
	Ping()
}

// Conn is a connection as a Framing's NewSession sees it: where its output goes. Its
// methods never block, and may be called from any goroutine.
type Conn struct{ c *conn }

// Deliver queues m encoded by the framing's Encoder (chat.Client).
func (c *Conn) Deliver(m *chat.Message) { c.c.Deliver(m) }

// Send queues b, the bytes m is rendered as for this connection, under the slow-reader rule
// as m (a room line may be skipped, a private message only past the hard cap); m nil: b is
// an answer to the client's own input, never skipped.
func (c *Conn) Send(m *chat.Message, b []byte) {
	if len(b) == 0 {
		return
	}
	if m == nil {
		c.c.write(b, connpolicy.KindKept)
		return
	}
	c.c.queueAs(m, b)
}

// SendLines queues ms, room lines said one after another, rendered by enc, as Send would each,
// under the connection's lock once (see chat.LinesClient).
func (c *Conn) SendLines(ms []*chat.Message, enc chat.Encoder) { c.c.queueLines(ms, enc) }

// SetNotices has the engine render what it says of its own on this connection after the
// client registered (how many lines a slow reader missed) with enc in place of the framing's
// Encoder: a protocol whose notices name their recipient (IRC) sets it when the name changes.
// enc is called with the connection's lock held, and must take no lock.
func (c *Conn) SetNotices(enc chat.Encoder) { c.c.notices.Store(&enc) }

// Waiting is how many bytes wait for the client, queued or held by a writer (what the
// slow-reader rule counts against --max-queue and its hard cap): a protocol that answers
// commands sent one after another, before the client read the first answer, sizes the next
// by it.
func (c *Conn) Waiting() int {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	return c.c.waiting().Size()
}

// Drop ends the connection once what is queued is sent (chat.Client).
func (c *Conn) Drop(reason chat.DropReason, detail string) { c.c.Drop(reason, detail) }

// Reason is why the connection ended, once it is ending (connpolicy.ReasonNone before): for a
// Session's Close, to tell others why in its own words.
func (c *Conn) Reason() connpolicy.CloseReason {
	c.c.mu.Lock()
	defer c.c.mu.Unlock()
	return c.c.reason
}

// Addr is the client's address.
func (c *Conn) Addr() netip.Addr { return remoteAddr(c.c.nc) }

// Hub is the chat the connection leads to.
func (c *Conn) Hub() *chat.Hub { return c.c.srv.hub }

// TelnetFraming is the framing of telnet and nc clients, a Server's default.
func TelnetFraming() Framing {
	return Framing{
		NewDecoder: func(maxLine int) Decoder { return NewTelnetDecoder(maxLine) },
		Encoder:    lineFormat,
	}
}

// lineFormat is lineEncoding as every message keeps it.
var lineFormat = chat.NewFormat(lineEncoding{})

// lingerTimeout bounds how long a connection that is being closed waits for the client to
// close its side, after everything queued was sent.
const lingerTimeout = 2 * time.Second

// Server serves the chat to line clients.
type Server struct {
	cfg  Config
	hub  *chat.Hub
	log  *slog.Logger
	loop *accept.Loop

	limiter *accept.Limiter

	framing Framing
	enc     chat.Encoder // framing.Encoder, used on every delivery
	// Notices the server sends of its own, encoded once.
	lineTooLong, noticeShutdown, noticeRegisterTimeout, noticePingTimeout []byte

	flushers     *flush.Set[flushScratch]
	startFlusher sync.Once
	// poller waits for the input of idle TCP connections (see poller.go); nil when the
	// system would not give one: each connection then has a read loop of its own.
	poller *poller

	mu           sync.Mutex
	conns        map[*conn]struct{} // guarded by mu
	shuttingDown bool               // guarded by mu

	obs Observer

	// testHookLine, when set, is called with each line before the chat sees it.
	testHookLine func(line []byte)
	// testSendBuffer, when set, is the size of each connection's kernel send buffer, in place
	// of the bound on its unsent bytes (accept.LimitUnsent).
	testSendBuffer int
}

// Observer is told what the transport does, for metrics (connpolicy.Observer).
type Observer = connpolicy.Observer

// SetObserver has the server tell obs what it does. It must be called before Serve.
func (s *Server) SetObserver(obs Observer) { s.obs = obs }

// NewServer returns a server that connects its clients to hub, admitting those limiter allows.
func NewServer(cfg Config, hub *chat.Hub, limiter *accept.Limiter, log *slog.Logger) *Server {
	s := &Server{
		cfg:   cfg,
		hub:   hub,
		log:   log,
		conns: make(map[*conn]struct{}),
		obs:   connpolicy.NoObserver{},
	}
	s.limiter = limiter
	s.SetFraming(TelnetFraming())
	s.flushers = flush.NewSet[flushScratch](runtime.GOMAXPROCS(0), flushPolicy)
	p, err := newPoller(log)
	if err != nil {
		log.Warn("idle connections will each hold a goroutine", "err", err)
	} else {
		s.poller = p
	}
	return s
}

// SetFraming has the server speak f instead of telnet's lines. It must be called before Serve.
func (s *Server) SetFraming(f Framing) {
	s.framing, s.enc = f, f.Encoder
	if s.framing.Service == "" {
		s.framing.Service = "chat"
	}
	s.loop = accept.New(s.framing.Service, s.limiter, s.log, s.serveConn)
	s.lineTooLong = s.enc.Encode(&chat.Message{Kind: chat.KindNotice, Text: fmt.Sprintf("line too long (max %d bytes)", s.cfg.MaxLine)})
	s.noticeShutdown = s.enc.Encode(connpolicy.NoticeShutdown)
	s.noticeRegisterTimeout = s.enc.Encode(connpolicy.NoticeRegisterTimeout)
	s.noticePingTimeout = s.enc.Encode(connpolicy.NoticePingTimeout)
}

// SetService names the listener in logs and metrics, in place of the framing's Service (the
// same chat behind another door: "chat-tls"). It must be called before Serve.
func (s *Server) SetService(name string) {
	f := s.framing
	f.Service = name
	s.SetFraming(f)
}

// Serve accepts connections on ln until Shutdown. Its connections are TCP ones, or streams
// over TCP such as tlsconf.Listener's (see serveConn).
func (s *Server) Serve(ln net.Listener) error {
	s.startFlushers()
	return s.loop.Serve(ln)
}

func (s *Server) startFlushers() {
	s.startFlusher.Do(func() {
		s.flushers.Start()
		if s.poller != nil {
			go s.poller.run()
		}
	})
}

// Shutdown stops accepting, tells every connected user the server is shutting down, sends what
// is queued to them, and closes their connections. When ctx ends first, it closes the rest at
// once and returns ctx's error. No goroutine of the server runs after it returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.loop.Close()
	s.mu.Lock()
	s.shuttingDown = true
	for c := range s.conns {
		c.finish(connpolicy.ReasonShutdown, s.noticeShutdown)
		c.endGone()
	}
	s.mu.Unlock()
	err := s.loop.Wait(ctx)
	if err != nil {
		// Through the connections, not only their sockets: closing the socket of a parked
		// connection wakes nobody.
		s.mu.Lock()
		for c := range s.conns {
			c.mu.Lock()
			c.closeLocked(connpolicy.ReasonShutdown)
			c.mu.Unlock()
		}
		s.mu.Unlock()
		s.loop.CloseConns()
		s.loop.Wait(context.Background())
	}
	s.startFlushers() // so that closing them cannot wait for ones that never ran
	s.flushers.Close()
	if s.poller != nil {
		s.poller.close()
	}
	if err != nil {
		return fmt.Errorf("chat shutdown: %w", err)
	}
	return nil
}

// serveConn serves nc: a TCP connection on its kernel socket, any other stream (a TLS one,
// which handshakes first, on this goroutine) with blocking reads and writes (see conn).
func (s *Server) serveConn(nc net.Conn) {
	var c *conn
	var err error
	if tcp, ok := nc.(*net.TCPConn); ok {
		if s.testSendBuffer > 0 {
			tcp.SetWriteBuffer(s.testSendBuffer)
		}
		c, err = newConn(s, tcp, s.flushers.Next())
	} else {
		c, err = newStreamConn(s, nc)
		if err == nil && s.testSendBuffer > 0 {
			if tcp, ok := c.sock.(*net.TCPConn); ok {
				tcp.SetWriteBuffer(s.testSendBuffer)
			}
		}
	}
	if err != nil {
		s.log.Error("set up connection", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	if s.testSendBuffer == 0 {
		// So that a slow reader's backlog stays in its queue, where the slow-reader rule
		// reaches it (accept.UnsentLimit).
		if err := accept.LimitUnsent(c.sock, accept.UnsentLimit(s.cfg.MaxQueue)); err != nil {
			s.log.Warn("set up connection", "remote", nc.RemoteAddr().String(), "err", err)
		}
	}
	if c.pumped {
		c.release = s.loop.Keep(nc)
		s.poller.add(c)
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	shuttingDown := s.shuttingDown
	s.mu.Unlock()
	if shuttingDown {
		c.finish(connpolicy.ReasonShutdown, s.noticeShutdown)
	}
	if c.pumped {
		// This goroutine returns once the client has nothing more to say; the connection
		// lives on in the poller, and whichever worker sees it end cleans up (conn.end).
		c.startPumped()
		return
	}
	defer s.forget(c)
	c.serve()
}

// forget drops c from the connections Shutdown finishes, once it ended.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
