// Package echo is the echo service: it writes back every byte it reads, through a fixed-size
// buffer (so a client that sends without reading is slowed by TCP, not buffered without bound),
// and disconnects a client that stays idle too long.
package echo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"hubbub/internal/accept"
)

// bufSize is the most an echo connection holds at once.
const bufSize = 8192

// Config configures the echo service.
type Config struct {
	IdleTimeout time.Duration // a client that neither sends nor reads for this long is disconnected
}

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config { return Config{IdleTimeout: 5 * time.Minute} }

// Server echoes.
type Server struct {
	cfg     Config
	log     *slog.Logger
	limiter *accept.Limiter
	service string // in logs
	loop    *accept.Loop
}

// NewServer returns an echo server admitting the connections limiter allows.
func NewServer(cfg Config, limiter *accept.Limiter, log *slog.Logger) *Server {
	return newServer(cfg, limiter, log, "echo")
}

func newServer(cfg Config, limiter *accept.Limiter, log *slog.Logger, service string) *Server {
	s := &Server{cfg: cfg, log: log, limiter: limiter, service: service}
	s.loop = accept.New(service, limiter, log, s.serveConn)
	return s
}

// Beside returns a server for one more listener of the same service (echo over TLS), named
// service in logs.
func (s *Server) Beside(service string) *Server { return newServer(s.cfg, s.limiter, s.log, service) }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.loop.Serve(ln) }

// Shutdown stops accepting, closes every connection and waits for their goroutines to end.
func (s *Server) Shutdown(ctx context.Context) error { return s.loop.Stop(ctx) }

func (s *Server) serveConn(c net.Conn) {
	start := time.Now()
	buf := make([]byte, bufSize)
	reason := "client closed"
	idle := accept.NewIdleDeadline(c, s.cfg.IdleTimeout)
	for {
		idle.Touch()
		n, err := c.Read(buf)
		if n > 0 {
			idle.Touch() // the write may wait for the client as long as a read would
			if _, werr := c.Write(buf[:n]); werr != nil {
				reason = "write error: " + werr.Error()
				if errors.Is(werr, os.ErrDeadlineExceeded) {
					reason = "write timeout"
				}
				break
			}
		}
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				reason = "idle timeout"
			case !errors.Is(err, io.EOF):
				reason = "read error"
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
