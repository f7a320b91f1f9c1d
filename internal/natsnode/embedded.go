package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Embedded configures a nats-server run inside the hubbub process, for a deployment made of
// hubbub nodes alone: each node's embedded server routes to the others' and together they are
// the JetStream cluster.
type Embedded struct {
	// ServerName names the server in the cluster; unique per server (the node name).
	ServerName string
	// Listen is the client address (host:port), where the nodes connect: ":4222".
	Listen string
	// ClusterListen is the route address (host:port) the other servers connect to: ":6222".
	// Without Routes it is not used: the server is a cluster of its own.
	ClusterListen string
	// Routes are the other servers' route URLs (nats://host:6222); listing this server's own is
	// harmless, so every node may be given the same list.
	Routes []string
	// StoreDir is where JetStream keeps its files: <data-dir>/nats.
	StoreDir string
	// ClusterName names the cluster; every server of it must use the same. "" means "hubbub".
	ClusterName string
}

// routeErrorReports: the embedded server logs the first failed attempt to reach a route and
// then one in this many (an attempt a second).
const routeErrorReports = 3600

// readyTimeout bounds how long StartEmbedded waits for the server to accept clients.
const (
	readyTimeout = 30 * time.Second
	readyPoll    = 100 * time.Millisecond
)

// serverOptions turns cfg into nats-server options.
func (cfg Embedded) serverOptions() (*server.Options, error) {
	host, port, err := splitHostPort("listen", cfg.Listen)
	if err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		// hubbub handles the signals; the server must not exit the process on its own.
		NoSigs: true,
		// No HTTP monitoring port: hubbub's /healthz and /metrics say what matters.
		HTTPPort: 0,
		// A route to a server that is down is tried every second; by default nats-server logs
		// an error for each attempt once the route has been up. Once an hour is enough to know.
		ConnectErrorReports:   routeErrorReports,
		ReconnectErrorReports: routeErrorReports,
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: no store directory")
	}
	// nats-server refuses to run JetStream in a cluster without routes: a server without any is
	// a cluster of its own.
	if cfg.ClusterListen != "" && len(cfg.Routes) > 0 {
		chost, cport, err := splitHostPort("cluster listen", cfg.ClusterListen)
		if err != nil {
			return nil, err
		}
		opts.Cluster.Host, opts.Cluster.Port = chost, cport
		opts.Cluster.Name = cfg.ClusterName
		if opts.Cluster.Name == "" {
			opts.Cluster.Name = "hubbub"
		}
		for _, r := range cfg.Routes {
			u, err := url.Parse(r)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("embedded nats: route %q: want nats://host:port", r)
			}
			opts.Routes = append(opts.Routes, u)
		}
	} else if len(cfg.Routes) > 0 {
		return nil, errors.New("embedded nats: routes need a cluster listen address")
	}
	return opts, nil
}

// splitHostPort parses a listen address; an empty host means every interface.
func splitHostPort(what, addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("embedded nats: %s address %q: %w", what, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("embedded nats: %s address %q: bad port", what, addr)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	if port == 0 {
		// nats-server takes 0 for its default port (4222); a free port is -1 there.
		port = server.RANDOM_PORT
	}
	return h, port, nil
}

// StartEmbedded starts a nats-server with JetStream as cfg says and waits until it accepts
// clients. The caller stops it with Shutdown, which waits for it. The server logs through log:
// its warnings and errors as such, its notices at debug level, its debug and trace never.
func StartEmbedded(cfg Embedded, log *slog.Logger) (*server.Server, error) {
	opts, err := cfg.serverOptions()
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	fatal := make(chan string, 1)
	srv.SetLoggerV2(serverLog{log.With("component", "nats-server"), fatal}, false, false, false)
	srv.Start()
	deadline := time.Now().Add(readyTimeout)
	for !srv.ReadyForConnections(readyPoll) {
		select {
		case why := <-fatal:
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("embedded nats: %s", why)
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("embedded nats: not accepting clients on %s within %v (is the port taken? the log says)", cfg.Listen, readyTimeout)
		}
	}
	log.Info("embedded nats server started", "name", srv.Name(), "client_url", ClientURL(srv), "cluster", cfg.ClusterListen, "routes", strings.Join(cfg.Routes, ","), "store", cfg.StoreDir)
	return srv, nil
}

// Shutdown stops an embedded server and waits until it has stopped, or ctx ends.
func Shutdown(ctx context.Context, srv *server.Server) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("embedded nats: shutdown: %w", ctx.Err())
	}
}

// ClientURL is the URL this process connects to its embedded server at: its client address,
// with a wildcard host made loopback.
func ClientURL(srv *server.Server) string {
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		return srv.ClientURL()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// serverLog adapts nats-server's logger to slog. Notices (a banner of some thirty lines at
// start, each route that comes and goes) are debug here: hubbub logs what matters to it at info.
type serverLog struct {
	log *slog.Logger
	// fatal gets the first fatal error: nats-server's own logger would exit the process, and a
	// server that logged one does not start (StartEmbedded says why at once).
	fatal chan<- string
}

func (l serverLog) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }

func (l serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}
func (l serverLog) Debugf(string, ...any) {}
func (l serverLog) Tracef(string, ...any) {}
