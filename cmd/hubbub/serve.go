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

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/echo"
	"hubbub/internal/ircproto"
	"hubbub/internal/lineproto"
	"hubbub/internal/memreturn"
	"hubbub/internal/metrics"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/quote"
	"hubbub/internal/safetext"
	"hubbub/internal/sqlite"
	"hubbub/internal/tlsconf"
	"hubbub/internal/wsgateway"
)

// LOCKING: Main takes no lock of its own. Run, Reload and Shutdown are called from one
// goroutine (serve's, or a test's); the HTTP handlers read only atomics (ready, stopping) and
// objects that lock for themselves (the hub, the store, the limiter). Reload calls into the hub
// (Hub.mu) and the limiter without holding anything. What matters is Shutdown's order: the
// doors to the chat first (users told, queues flushed), then the history (so that every line
// said is written), then the HTTP servers (which answer /readyz "shutting down" meanwhile).

// service is what Main needs of each server behind a listener.
type service interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// stopper is a part of a service that Main stops apart from it.
type stopper interface {
	Shutdown(ctx context.Context) error
}

// A listener is one of hubbub's doors as configured: a name (in logs, metrics and Addr), the
// address to listen on ("" switches it off), and the function that makes the service behind it.
type listener struct {
	name, addr string
	// chat: the service leads to the chat, which is built before it (once, for every door).
	chat bool
	// ops: it serves operators only (metrics, health checks), which is no reason to run.
	ops bool
	// tls: its connections are TLS (tlsconf.Listener), with the configured certificate; it is
	// on only when there is one.
	tls bool
	// make makes the service behind the listener, named name in its logs and metrics.
	make func(m *Main, name string) (door, error)
}

// listeners returns hubbub's doors in the order they open: the HTTP ones last, as they serve
// what the others make (the chat's WebSocket, the metrics). A new door is one entry here and the
// function that makes its service.
func (m *Main) listeners() []listener {
	return []listener{
		{name: "chat", addr: m.cfg.ChatAddr, chat: true, make: (*Main).lineDoor},
		{name: "irc", addr: m.cfg.IRCAddr, chat: true, make: (*Main).ircDoor},
		{name: "chat-tls", addr: m.cfg.TLS.ChatAddr, chat: true, tls: true, make: (*Main).lineDoor},
		{name: "irc-tls", addr: m.cfg.TLS.IRCAddr, chat: true, tls: true, make: (*Main).ircDoor},
		{name: "quote", addr: m.cfg.QuoteAddr, make: (*Main).quoteDoor},
		{name: "echo", addr: m.cfg.EchoAddr, make: (*Main).echoDoor},
		{name: "quote-tls", addr: m.cfg.TLS.QuoteAddr, tls: true, make: (*Main).quoteDoor},
		{name: "echo-tls", addr: m.cfg.TLS.EchoAddr, tls: true, make: (*Main).echoDoor},
		{name: "http", addr: m.cfg.HTTPAddr, chat: true, make: (*Main).publicDoor},
		{name: "https", addr: m.cfg.TLS.HTTPSAddr, chat: true, tls: true, make: (*Main).httpsDoor},
		{name: "admin", addr: m.cfg.AdminAddr, ops: true, tls: m.cfg.TLS.Admin, make: (*Main).adminDoor},
	}
}

// door is a service made for a listener, and how Main runs it.
type door struct {
	srv service
	// keepAlive has the kernel probe idle connections. Chat users sit idle for hours and a
	// vanished one should not hold a name forever; quote and echo clients come and go in
	// milliseconds, have an idle timeout, and would only pay four setsockopt calls each.
	keepAlive bool
	// web is set for an HTTP server: each connection counts against this limiter as it is
	// accepted (net/http cannot refuse one itself), and the server stops last, answering
	// /readyz "shutting down" while the chat says goodbye.
	web *accept.Limiter
	// handedOver stops the connections the service handed to another server, with the chat:
	// net/http's Shutdown does not close the WebSockets the gateway hijacked.
	handedOver stopper
}

// openDoor is a door listening.
type openDoor struct {
	name string
	door
	ln net.Listener
}

// Main is the running program: the chat, and every enabled service on its listener.
type Main struct {
	cfg   Config
	log   *slog.Logger
	level *slog.LevelVar // the logger's level, which Reload changes; nil: fixed

	metrics *metrics.Metrics
	limiter *accept.Limiter
	history *sqlite.Store  // nil without history
	certs   *tlsconf.Certs // the TLS certificate; nil without one (TLS listeners off)
	hub     *chat.Hub      // nil when no listener leads to the chat
	quotes  *quote.Server  // the quote service's current quote, for its listeners; nil before

	// In a cluster (cluster.go): the NATS connection, its JetStream and this node's name; nil
	// and "" for a node alone. natsServer is the embedded NATS server, if any.
	nc           *nats.Conn
	js           jetstream.JetStream
	node         string
	natsServer   *server.Server
	natsCounters *natsnode.Counters
	natsLag      natsLagSlot
	cluster      *natsbus.Cluster // the chat's bus and names on NATS; nil for a node alone
	shared       *natsstore.Store // accounts, web logins and bans in a cluster; nil for a node alone
	abort        chan struct{}    // closed to give up a start that waits for NATS; nil: never

	roomRecords *natsstore.RoomStore // rooms' owners and topics in a cluster; nil for a node alone

	// memory gives back what a burst of work left once the server is quiet; set by Run,
	// stopped by Shutdown.
	memory *memreturn.Returner

	doors    []openDoor // set by Run, read-only after it
	serving  sync.WaitGroup
	errs     chan error  // a Serve that failed
	ready    atomic.Bool // every listener is up
	stopping atomic.Bool // shutting down
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

// Run builds the chat if a listener leads to it, then listens on every enabled address and
// starts serving. It returns once all listeners are open, or with the first error (having
// closed what it opened).
func (m *Main) Run() error {
	m.metrics = metrics.New()
	m.limiter = accept.NewLimiter(m.cfg.limits(), m.metrics)
	if err := m.loadCerts(); err != nil {
		return err
	}
	var enabled []listener
	var names []string
	needChat, users := false, false
	for _, l := range m.listeners() {
		if !l.ops {
			names = append(names, "--"+l.name+"-addr")
		}
		if l.addr == "" || l.tls && m.certs == nil {
			continue
		}
		enabled = append(enabled, l)
		needChat = needChat || l.chat
		users = users || !l.ops
	}
	if !users {
		return fmt.Errorf("every service is switched off: set at least one of %s", strings.Join(names, ", "))
	}
	if err := m.startCluster(); err != nil {
		return err
	}
	if needChat {
		hub, err := m.newHub()
		if err != nil {
			m.stopCluster(context.Background())
			return err
		}
		m.hub = hub
	}
	var doors []openDoor
	fail := func(err error) error {
		for _, d := range doors {
			d.ln.Close()
		}
		m.leaveCluster()
		m.closeHistory()
		m.stopCluster(context.Background())
		return err
	}
	for _, l := range enabled {
		d, err := l.make(m, l.name)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", l.name, err))
		}
		lc := net.ListenConfig{}
		if !d.keepAlive {
			lc.KeepAlive = -1
		}
		ln, err := lc.Listen(context.Background(), "tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("%s: listen on %s: %w", l.name, l.addr, err))
		}
		if d.web != nil {
			ln = accept.NewHTTPListener(ln, l.name, d.web, m.log)
		}
		if l.tls {
			ln = tlsconf.NewListener(ln, m.tlsOptions(l.name, plainToTLS(l.name, d)))
		}
		doors = append(doors, openDoor{name: l.name, door: d, ln: ln})
	}
	m.doors = doors
	m.errs = make(chan error, len(doors))
	for _, d := range doors {
		m.log.Info("listening", "service", d.name, "addr", d.ln.Addr().String())
		m.serving.Go(func() {
			if err := d.srv.Serve(d.ln); err != nil {
				m.errs <- fmt.Errorf("%s: %w", d.name, err)
			}
		})
	}
	m.memory = memreturn.Start(m.cfg.MemoryReturn, m.log)
	m.ready.Store(true)
	return nil
}

// Addr returns the address the listener called name is bound to ("127.0.0.1:43117" where
// it was asked for "127.0.0.1:0"), or "" when it is off. It is valid once Run has returned.
func (m *Main) Addr(name string) string {
	for _, d := range m.doors {
		if d.name == name {
			return d.ln.Addr().String()
		}
	}
	return ""
}

// webService runs an HTTP server as a service, whose Serve ends without error at Shutdown.
type webService struct{ *http.Server }

func (s webService) Serve(ln net.Listener) error {
	if err := s.Server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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

// newHub makes the chat with its history and accounts, whatever doors lead to it.
func (m *Main) newHub() (*chat.Hub, error) {
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
		chatCfg.History, chatCfg.Bans = store, store
		if m.cfg.Accounts != "off" {
			chatCfg.Accounts = store
		}
		chatCfg.AccountsRequired = m.cfg.Accounts == "required"
	}
	chatCfg.Operators, _ = m.cfg.operators() // checked by validate
	if m.nc != nil {
		if err := m.joinCluster(&chatCfg); err != nil {
			m.closeHistory()
			return nil, err
		}
	}
	hub := chat.NewHub(chatCfg, m.log)
	if err := hub.Restore(context.Background()); err != nil {
		m.leaveCluster()
		m.closeHistory()
		return nil, fmt.Errorf("history: %w", err)
	}
	if m.cluster != nil && m.history != nil {
		if err := m.cluster.StartIndex(m.history, hub.Indexed); err != nil {
			m.leaveCluster()
			m.closeHistory()
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	m.metrics.Gauge("hubbub_users", "Chat users registered now.", func() float64 {
		users, _ := hub.Counts()
		return float64(users)
	})
	m.metrics.Gauge("hubbub_rooms", "Chat rooms now.", func() float64 {
		_, rooms := hub.Counts()
		return float64(rooms)
	})
	return hub, nil
}

// lineDoor is the chat over TCP lines, for telnet and nc (name "chat"), or over TLS lines
// for openssl s_client and ncat --ssl ("chat-tls"): the engine serves either, and sees each
// TLS client's own address.
func (m *Main) lineDoor(name string) (door, error) {
	line := lineproto.NewServer(m.cfg.Line, m.hub, m.limiter, m.log)
	line.SetService(name)
	line.SetObserver(m.metrics.Line())
	return door{srv: line, keepAlive: true}, nil
}

// ircDoor is the chat for IRC clients ("irc"; "irc-tls" over TLS), on the line transport's
// engine and limits.
func (m *Main) ircDoor(name string) (door, error) {
	irc := ircproto.NewServer(m.cfg.Line, m.hub, m.limiter, m.log)
	irc.SetService(name)
	irc.SetObserver(m.metrics.Line())
	return door{srv: irc, keepAlive: true}, nil
}

// quoteDoor is the quote service ("quote"; "quote-tls" over TLS): both hand out one current
// quote.
func (m *Main) quoteDoor(name string) (door, error) {
	if m.quotes == nil {
		m.quotes = quote.NewServer(m.cfg.Quote, m.limiter, m.log)
	}
	return door{srv: m.quotes.Beside(name)}, nil
}

// echoDoor is the echo service ("echo"; "echo-tls" over TLS).
func (m *Main) echoDoor(name string) (door, error) {
	return door{srv: echo.NewServer(m.cfg.Echo, m.limiter, m.log).Beside(name)}, nil
}

// publicDoor is the public HTTP listener: the page, and the chat over its WebSocket.
func (m *Main) publicDoor(string) (door, error) { return m.webDoor(false) }

// webDoor is a public web listener; overTLS: it is HTTPS, whose login cookies are Secure.
func (m *Main) webDoor(overTLS bool) (door, error) {
	wsCfg := m.cfg.wsConfig()
	wsCfg.SecureCookies = overTLS || strings.HasPrefix(strings.ToLower(m.cfg.PublicURL), "https:")
	// The HTTP listener has counted the browser's connection against the limits already.
	ws := wsgateway.NewServer(wsCfg, m.hub, wsCount{m.metrics}, m.log)
	ws.SetObserver(m.metrics.Line()) // lines, writes and closes are counted as the TCP chat's
	switch {
	case m.accountsOn() && m.shared != nil:
		ws.SetTokens(m.shared) // a cluster's, as its accounts are
	case m.accountsOn():
		ws.SetTokens(m.history) // the page's login keeps its sessions with the accounts
	}
	srv := m.newHTTPServer(m.publicHandler(ws), true)
	return door{srv: webService{srv}, web: m.limiter, handedOver: ws}, nil
}

// adminDoor is the operators' HTTP listener, with limits of its own.
func (m *Main) adminDoor(string) (door, error) {
	srv := m.newHTTPServer(m.adminHandler(), !m.cfg.PProf)
	return door{srv: webService{srv}, web: accept.NewLimiter(accept.Limits{MaxConns: adminMaxConns}, m.metrics)}, nil
}

// Failed returns a channel that yields an error if a service stops serving by itself.
func (m *Main) Failed() <-chan error { return m.errs }

// Shutdown stops every service: no new connections, users told, queues flushed, connections
// closed, the history closed, and the HTTP servers last. When ctx ends first, what remains is
// cut off. It returns every error, each naming its listener. It may be called again.
func (m *Main) Shutdown(ctx context.Context) error {
	m.stopping.Store(true) // /readyz says so from now on
	if m.memory != nil {
		// First: what the shutdown frees is no burst worth two collections.
		m.memory.Stop()
	}
	if m.roomRecords != nil {
		// Before the doors wait for their connections: a join waiting for a room's record to
		// settle (up to ten seconds) gives up rather than hold the shutdown.
		m.roomRecords.StopClaims()
	}
	var first, last []func() error
	named := func(name string, s stopper) func() error {
		return func() error {
			if err := s.Shutdown(ctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		}
	}
	for _, d := range m.doors {
		if d.web == nil {
			first = append(first, named(d.name, d.srv))
			continue
		}
		if d.handedOver != nil {
			first = append(first, named(d.name, d.handedOver))
		}
		last = append(last, named(d.name, d.srv))
	}
	errs := stopAll(first)
	// Once every member left (their names freed), and before the history, which the cluster's
	// index writes to.
	m.leaveCluster()
	// After the chat's doors, so that every line said before the users were cut off is written.
	errs = append(errs, m.closeHistory())
	errs = append(errs, stopAll(last)...)
	m.serving.Wait()
	// Last: the chat and its history may use NATS until they are done.
	if err := m.stopCluster(ctx); err != nil {
		errs = append(errs, fmt.Errorf("nats: %w", err))
	}
	return errors.Join(errs...)
}

// stopAll runs every stop at once and returns their errors.
func stopAll(stops []func() error) []error {
	errs := make([]error, len(stops))
	var wg sync.WaitGroup
	for i, stop := range stops {
		wg.Go(func() { errs[i] = stop() })
	}
	wg.Wait()
	return errs
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
