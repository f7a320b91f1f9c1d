// Package lineproto is the TCP line transport of the chat: what telnet and nc users connect
// to. It frames lines (Decoder), queues each connection's output in a bounded buffer written by
// one writev per wakeup, drops connections that cannot keep up, and feeds every line to the
// chat domain, which it knows only through chat.Hub and chat.Session.
package lineproto

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
)

// Config holds the limits of the line transport. Each has a flag in cmd/hubbub.
type Config struct {
	MaxLine int // longest line a client may send, in bytes
	// MaxQueue bounds the bytes queued to one connection: past it, the oldest chat lines queued
	// are skipped (the client is told once); output that cannot be skipped is queued up to four
	// times MaxQueue, past which the connection is dropped as a slow consumer.
	MaxQueue        int
	WriteTimeout    time.Duration // a socket that takes no byte for this long drops the connection
	RegisterTimeout time.Duration // time to choose a name before the connection is closed; 0: none
	LineRate        float64       // lines per second one connection may send; 0: no limit
	LineBurst       int           // lines that may be sent at once before LineRate applies
	// FloodAfter is how long a client held back by LineRate without let-up may go on before it
	// counts as flooding; 0: never. A paste is held back too, and must arrive whole: at the
	// default rate, a minute lets a paste of 600 lines (plus the burst) through.
	FloodAfter time.Duration
}

// DefaultConfig returns the defaults documented in the README and in --help.
func DefaultConfig() Config {
	return Config{
		MaxLine:         4096,
		MaxQueue:        256 << 10,
		WriteTimeout:    10 * time.Second,
		RegisterTimeout: 60 * time.Second,
		LineRate:        10,
		LineBurst:       30,
		FloodAfter:      time.Minute,
	}
}

// lingerTimeout bounds how long a connection that is being closed waits for the client to
// close its side, after everything queued was sent.
const lingerTimeout = 2 * time.Second

// Server serves the chat to line clients.
type Server struct {
	cfg  Config
	hub  *chat.Hub
	log  *slog.Logger
	loop *accept.Loop

	lineTooLong []byte // the notice for an over-long line, made once

	flushers     []*flusher
	nextFlusher  atomic.Uint32
	startFlusher sync.Once

	mu           sync.Mutex
	conns        map[*conn]struct{} // guarded by mu
	shuttingDown bool               // guarded by mu

	obs Observer

	// testHookLine, when set, is called with each line before the chat sees it.
	testHookLine func(line []byte)
	// testSendBuffer, when set, is the size of each connection's kernel send buffer.
	testSendBuffer int
}

// Observer is told what the transport does, for metrics. Its methods are called on hot paths:
// they must be cheap and must not block.
type Observer interface {
	LineReceived()
	RateLimited()
	// Wrote says a connection's output was handed to the socket: messages, bytes written,
	// and the bytes that were queued before the write.
	Wrote(messages, bytes, queued int)
	// Closed says a chat connection ended, with why: "slow consumer", "write timeout", ...
	Closed(reason string)
}

type noObserver struct{}

func (noObserver) LineReceived()     {}
func (noObserver) RateLimited()      {}
func (noObserver) Wrote(_, _, _ int) {}
func (noObserver) Closed(string)     {}

// SetObserver has the server tell obs what it does. It must be called before Serve.
func (s *Server) SetObserver(obs Observer) { s.obs = obs }

// NewServer returns a server that connects its clients to hub, admitting those limiter allows.
func NewServer(cfg Config, hub *chat.Hub, limiter *accept.Limiter, log *slog.Logger) *Server {
	s := &Server{
		cfg:         cfg,
		hub:         hub,
		log:         log,
		conns:       make(map[*conn]struct{}),
		obs:         noObserver{},
		lineTooLong: fmt.Appendf(nil, "*** line too long (max %d bytes)\r\n", cfg.MaxLine),
	}
	for range runtime.GOMAXPROCS(0) {
		s.flushers = append(s.flushers, newFlusher())
	}
	s.loop = accept.New("chat", limiter, log, s.serveConn)
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.startFlushers()
	return s.loop.Serve(ln)
}

func (s *Server) startFlushers() {
	s.startFlusher.Do(func() {
		for _, f := range s.flushers {
			go f.run()
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
		c.finish(reasonShutdown, noticeShutdown)
	}
	s.mu.Unlock()
	err := s.loop.Wait(ctx)
	if err != nil {
		s.loop.CloseConns()
		s.loop.Wait(context.Background())
	}
	s.startFlushers() // so that closing them cannot wait for ones that never ran
	for _, f := range s.flushers {
		f.close()
	}
	if err != nil {
		return fmt.Errorf("chat shutdown: %w", err)
	}
	return nil
}

var noticeShutdown = []byte("*** server shutting down\r\n")

func (s *Server) serveConn(nc net.Conn) {
	tcp, ok := nc.(*net.TCPConn)
	if !ok {
		s.log.Error("not a TCP connection", "remote", nc.RemoteAddr().String())
		return
	}
	if s.testSendBuffer > 0 {
		tcp.SetWriteBuffer(s.testSendBuffer)
	}
	f := s.flushers[int(s.nextFlusher.Add(1))%len(s.flushers)]
	c, err := newConn(s, tcp, f)
	if err != nil {
		s.log.Error("set up connection", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	shuttingDown := s.shuttingDown
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	if shuttingDown {
		c.finish(reasonShutdown, noticeShutdown)
	}
	c.serve()
}
