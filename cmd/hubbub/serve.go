package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/echo"
	"hubbub/internal/lineproto"
	"hubbub/internal/metrics"
	"hubbub/internal/quote"
	"hubbub/internal/safetext"
	"hubbub/internal/sqlite"
	"hubbub/internal/wsgateway"
)

// service is what Main needs of each server.
type service interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Main is the running program: every enabled service on its listener.
type Main struct {
	cfg   Config
	log   *slog.Logger
	level *slog.LevelVar // the logger's level, which Reload changes; nil: fixed

	services []service
	serving  sync.WaitGroup
	errs     chan error    // a Serve that failed
	history  *sqlite.Store // nil without history
	metrics  *metrics.Metrics
	limiter  *accept.Limiter
	hub      *chat.Hub         // nil with chat off
	ws       *wsgateway.Server // nil with chat off
	http     *http.Server      // the public HTTP listener's; nil when off
	admin    *http.Server      // the admin listener's; nil when off
	ready    atomic.Bool       // every listener is up
	stopping atomic.Bool       // shutting down
}

// newLogger returns the logger cfg asks for, writing to w.
func newLogger(cfg Config, w io.Writer, level *slog.LevelVar) *slog.Logger {
	l, _ := cfg.logLevel() // checked by validate
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// adminMaxConns bounds the admin listener's connections apart from the shared limits: a
// full server must still answer its scraper and its health checks, and a scraper gone wrong
// must not take the descriptors users need.
const adminMaxConns = 16

// Run listens on every enabled address and starts serving. It returns once all listeners are
// open, or with the first listen error (having closed the listeners it opened).
func (m *Main) Run() error {
	m.metrics = metrics.New()
	m.limiter = accept.NewLimiter(m.cfg.limits(), m.metrics)
	limiter := m.limiter
	type listener struct {
		name, addr string
		srv        service
		// keepAlive has the kernel probe idle connections. Chat users sit idle for hours and a
		// vanished one should not hold a name forever; quote and echo clients come and go in
		// milliseconds, have an idle timeout, and would only pay four setsockopt calls each.
		keepAlive bool
	}
	var todo []listener
	if m.cfg.ChatAddr != "" {
		line, err := m.newChat()
		if err != nil {
			return err
		}
		todo = append(todo, listener{"chat", m.cfg.ChatAddr, line, true})
	}
	if m.cfg.QuoteAddr != "" {
		todo = append(todo, listener{"quote", m.cfg.QuoteAddr, quote.NewServer(m.cfg.Quote, limiter, m.log), false})
	}
	if m.cfg.EchoAddr != "" {
		todo = append(todo, listener{"echo", m.cfg.EchoAddr, echo.NewServer(m.cfg.Echo, limiter, m.log), false})
	}
	if len(todo) == 0 {
		return errors.New("every service is switched off: set at least one of --chat-addr, --quote-addr, --echo-addr")
	}
	// The HTTP listeners come last: they serve what the others make (the chat's WebSocket, the
	// metrics). Each HTTP connection counts once against the limits, whatever it asks for.
	var webs []webListener
	if m.cfg.HTTPAddr != "" {
		m.http = m.newHTTPServer(m.publicHandler(), true)
		webs = append(webs, webListener{"http", m.cfg.HTTPAddr, m.http, limiter})
	}
	if m.cfg.AdminAddr != "" {
		m.admin = m.newHTTPServer(m.adminHandler(), !m.cfg.PProf)
		webs = append(webs, webListener{"admin", m.cfg.AdminAddr, m.admin,
			accept.NewLimiter(accept.Limits{MaxConns: adminMaxConns}, m.metrics)})
	}
	var lns []net.Listener
	fail := func(err error) error {
		for _, open := range lns {
			open.Close()
		}
		m.closeHistory()
		return err
	}
	for _, l := range todo {
		lc := net.ListenConfig{}
		if !l.keepAlive {
			lc.KeepAlive = -1
		}
		ln, err := lc.Listen(context.Background(), "tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("%s: listen on %s: %w", l.name, l.addr, err))
		}
		lns = append(lns, ln)
	}
	for _, w := range webs {
		ln, err := net.Listen("tcp", w.addr)
		if err != nil {
			return fail(fmt.Errorf("%s: listen on %s: %w", w.name, w.addr, err))
		}
		lns = append(lns, accept.NewHTTPListener(ln, w.name, w.limiter, m.log))
	}
	m.errs = make(chan error, len(todo)+len(webs))
	for i, l := range todo {
		m.log.Info("listening", "service", l.name, "addr", lns[i].Addr().String())
		m.services = append(m.services, l.srv)
		m.serving.Go(func() {
			if err := l.srv.Serve(lns[i]); err != nil {
				m.errs <- fmt.Errorf("%s: %w", l.name, err)
			}
		})
	}
	for i, w := range webs {
		ln := lns[len(todo)+i]
		m.log.Info("listening", "service", w.name, "addr", ln.Addr().String())
		m.serving.Go(func() {
			if err := w.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.errs <- fmt.Errorf("%s: %w", w.name, err)
			}
		})
	}
	m.ready.Store(true)
	return nil
}

// webListener is an HTTP server to start, and the limiter its connections count against.
type webListener struct {
	name, addr string
	srv        *http.Server
	limiter    *accept.Limiter
}

// newHTTPServer returns a server for h with every phase of a connection bounded: an idle
// keep-alive connection is closed, a request must arrive and its answer leave in time
// (writeTimeout false leaves the answer unbounded, for pprof's profiles that take as long as
// asked). None of it cuts a WebSocket: net/http clears a connection's deadlines when the
// gateway hijacks it, and the gateway has its own ping and write timeouts from there.
func (m *Main) newHTTPServer(h http.Handler, writeTimeout bool) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, m.cfg.HTTPTimeout),
		ReadTimeout:       m.cfg.HTTPTimeout,
		IdleTimeout:       m.cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    m.cfg.HTTPMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	if writeTimeout {
		srv.WriteTimeout = m.cfg.HTTPTimeout
	}
	return srv
}

// newChat makes the chat, its history and its two transports: the line server it returns, and
// the WebSocket gateway that the HTTP listener serves.
func (m *Main) newChat() (*lineproto.Server, error) {
	chatCfg := m.cfg.Chat
	chatCfg.Observer = m.metrics
	if m.cfg.MOTDFile != "" {
		motd, err := readMOTD(m.cfg.MOTDFile)
		if err != nil {
			return nil, err
		}
		chatCfg.MOTD = motd
	}
	if !m.cfg.NoHistory {
		store, err := m.openHistory()
		if err != nil {
			return nil, err
		}
		chatCfg.History = store
		if m.cfg.Accounts != "off" {
			chatCfg.Accounts = store
		}
		chatCfg.AccountsRequired = m.cfg.Accounts == "required"
	}
	chatCfg.Operators, _ = m.cfg.operators() // checked by validate
	hub := chat.NewHub(chatCfg, m.log)
	if err := hub.Restore(context.Background()); err != nil {
		m.closeHistory()
		return nil, fmt.Errorf("history: %w", err)
	}
	m.hub = hub
	m.metrics.Gauge("hubbub_users", "Chat users registered now.", func() float64 {
		users, _ := hub.Counts()
		return float64(users)
	})
	m.metrics.Gauge("hubbub_rooms", "Chat rooms now.", func() float64 {
		_, rooms := hub.Counts()
		return float64(rooms)
	})
	// The HTTP listener has counted the browser's connection against the limits already.
	wsCfg := m.cfg.wsConfig()
	wsCfg.SecureCookies = strings.HasPrefix(strings.ToLower(m.cfg.PublicURL), "https:")
	m.ws = wsgateway.NewServer(wsCfg, hub, wsCount{m.metrics}, m.log)
	if m.accountsOn() {
		m.ws.SetTokens(m.history) // the page's login keeps its sessions with the accounts
	}
	line := lineproto.NewServer(m.cfg.Line, hub, m.limiter, m.log)
	line.SetObserver(m.metrics.Line())
	return line, nil
}

// Failed returns a channel that yields an error if a service stops serving by itself.
func (m *Main) Failed() <-chan error { return m.errs }

// Shutdown stops every service at once: no new connections, users told, queues flushed,
// connections closed. When ctx ends first, what remains is cut off.
func (m *Main) Shutdown(ctx context.Context) error {
	m.stopping.Store(true) // /readyz says so from now on
	errs := make([]error, len(m.services))
	var wg sync.WaitGroup
	for i, s := range m.services {
		wg.Go(func() { errs[i] = s.Shutdown(ctx) })
	}
	if m.ws != nil {
		// Before the HTTP server's: it does not close the connections it handed over.
		wg.Go(func() {
			if err := m.ws.Shutdown(ctx); err != nil {
				m.log.Warn("websocket shutdown cut short", "err", err)
			}
		})
	}
	wg.Wait()
	// Last, so that every line said before the users were cut off is written.
	errs = append(errs, m.closeHistory())
	for name, srv := range map[string]*http.Server{"http": m.http, "admin": m.admin} {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	m.serving.Wait()
	return errors.Join(errs...)
}

// openHistory opens the history database in the data directory.
func (m *Main) openHistory() (*sqlite.Store, error) {
	path, err := m.cfg.historyPath()
	if err != nil {
		return nil, err
	}
	cfg := sqlite.DefaultConfig(path)
	cfg.Fsync = m.cfg.Fsync
	cfg.MaxAge = m.cfg.HistoryMaxAge
	cfg.MaxRows = m.cfg.HistoryMaxRows
	cfg.Observer = m.metrics
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := sqlite.Open(ctx, cfg, m.log)
	if err != nil {
		return nil, err
	}
	m.history = store
	m.log.Info("history", "path", cfg.Path, "fsync", cfg.Fsync)
	return store, nil
}

func (m *Main) closeHistory() error {
	if m.history == nil {
		return nil
	}
	// Close is safe to call again, and the store answers Err after it, for /readyz.
	if err := m.history.Close(); err != nil {
		return fmt.Errorf("close history: %w", err)
	}
	return nil
}

// MOTD bounds: a message of the day is a few lines, not a file dump.
const (
	maxMOTDLines = 50
	maxMOTDLine  = 400
)

// readMOTD reads the message of the day, made safe to show, without trailing empty lines.
func readMOTD(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("motd: %w", err)
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		if len(lines) == maxMOTDLines {
			break
		}
		lines = append(lines, safetext.Truncate(safetext.CleanString(strings.TrimRight(line, "\r\n")), maxMOTDLine))
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines, nil
}
