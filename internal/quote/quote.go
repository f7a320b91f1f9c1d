// Package quote is the quote service of the original notebook: each quote a client sends is
// answered with the current quote, and becomes the current quote in its place.
//
// A quote ends at a line end (LF or CR LF), or where the client stops sending: bytes that
// arrive without a line end are one quote. So the original client, which writes its quote with
// no newline and waits, is answered at once, and an nc user gets an answer per line. Empty
// lines are ignored. Quotes are made safe to show (see safetext) and cut to MaxQuote bytes.
// Each answer is the quote followed by CR LF.
//
// Every quote is handed to exactly one later client: taking the current quote and putting the
// new one in its place is one atomic swap, however many clients do it at once.
package quote

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/safetext"
)

// Config configures the quote service.
type Config struct {
	First       string        // the quote the server starts with
	MaxQuote    int           // longest quote kept, in bytes; longer ones are cut
	IdleTimeout time.Duration // a client silent this long is disconnected
}

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config {
	return Config{First: "Truth never dies", MaxQuote: 1024, IdleTimeout: 5 * time.Minute}
}

// Server serves quotes.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limiter *accept.Limiter
	service string // in logs
	loop    *accept.Loop
	current *atomic.Pointer[string] // shared with the servers Beside made
}

// NewServer returns a quote server admitting the connections limiter allows.
func NewServer(cfg Config, limiter *accept.Limiter, log *slog.Logger) *Server {
	first := cfg.First
	current := new(atomic.Pointer[string])
	current.Store(&first)
	return newServer(cfg, limiter, log, "quote", current)
}

func newServer(cfg Config, limiter *accept.Limiter, log *slog.Logger, service string, current *atomic.Pointer[string]) *Server {
	s := &Server{cfg: cfg, log: log, limiter: limiter, service: service, current: current}
	s.loop = accept.New(service, limiter, log, s.serveConn)
	return s
}

// Beside returns a server for one more listener of the same service (quote over TLS), named
// service in logs: a quote sent to either is handed to the next client of either, as one
// service has one current quote.
func (s *Server) Beside(service string) *Server {
	return newServer(s.cfg, s.limiter, s.log, service, s.current)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.loop.Serve(ln) }

// Shutdown stops accepting, closes every connection and waits for their goroutines to end.
func (s *Server) Shutdown(ctx context.Context) error { return s.loop.Stop(ctx) }

// Swap makes q the current quote and returns the one it replaces.
func (s *Server) Swap(q string) string { return *s.current.Swap(&q) }

func (s *Server) serveConn(c net.Conn) {
	start := time.Now()
	buf := make([]byte, max(s.cfg.MaxQuote, 512)+2)
	var reply []byte
	reason := "client closed"
	idle := accept.NewIdleDeadline(c, s.cfg.IdleTimeout)
	for {
		idle.Touch()
		n, err := c.Read(buf)
		reply = s.answer(reply[:0], buf[:n])
		if len(reply) > 0 {
			idle.Touch() // the write may wait for the client as long as a read would
			if _, werr := c.Write(reply); werr != nil {
				reason = "write error"
				break
			}
		}
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				reason = "idle timeout"
			}
			break
		}
	}
	// The arguments would cost more than the rest of a short connection's life: build them only
	// when they are written.
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("connection closed", "service", s.service, "remote", c.RemoteAddr().String(),
			"duration", time.Since(start).Round(time.Millisecond), "reason", reason)
	}
}

// answer appends to reply the answer to each quote in p, one read's worth of input.
func (s *Server) answer(reply, p []byte) []byte {
	for len(p) > 0 {
		line, rest, _ := bytes.Cut(p, []byte{'\n'})
		p = rest
		line = bytes.TrimSuffix(line, []byte{'\r'})
		q := safetext.Clean(line)
		if len(bytes.TrimSpace([]byte(q))) == 0 {
			continue
		}
		old := s.Swap(safetext.Truncate(q, s.cfg.MaxQuote))
		reply = append(append(reply, old...), '\r', '\n')
	}
	return reply
}
