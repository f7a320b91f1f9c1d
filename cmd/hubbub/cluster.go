package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"hubbub/internal/chat"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
)

// ClusterConfig is how a node joins a cluster of hubbub nodes over NATS JetStream
// (docs/cluster.md). With neither NATS nor Embedded the node is alone and none of it applies.
type ClusterConfig struct {
	NATS          string // comma-separated URLs of NATS servers
	Creds, TLSCA  string // files
	NodeName      string
	Embedded      bool
	Listen        string // the embedded server's client address
	ClusterListen string // the embedded server's route address
	Routes        string // comma-separated route URLs of the other embedded servers
	Replicas      int    // 0: automatic
	MaxAge        time.Duration
}

// clusterStartTimeout bounds connecting to NATS and provisioning at start: long enough for three
// nodes started at once to find each other and elect a JetStream leader.
const clusterStartTimeout = 2 * time.Minute

// defaultClusterConfig is the cluster's part of the defaults.
func defaultClusterConfig() ClusterConfig {
	return ClusterConfig{
		NodeName:      defaultNodeName(),
		Listen:        ":4222",
		ClusterListen: ":6222",
	}
}

// defaultNodeName is the machine's host name up to its first dot, or "" when it has none.
func defaultNodeName() string {
	host, err := os.Hostname()
	if err != nil {
		return ""
	}
	name, _, _ := strings.Cut(host, ".")
	return name
}

// clusterFlags binds the cluster's settings to flags of fs.
func clusterFlags(fs *flag.FlagSet, c *ClusterConfig) {
	fs.StringVar(&c.NATS, "nats", c.NATS, "comma-separated `URLs` of NATS servers with JetStream (nats://h1:4222,nats://h2:4222): run as one chat with every hubbub node on that NATS cluster; empty: this node alone (unless --nats-embedded)")
	fs.StringVar(&c.Creds, "nats-creds", c.Creds, "NATS credentials `file` (JWT and seed) for --nats")
	fs.StringVar(&c.TLSCA, "nats-tls-ca", c.TLSCA, "PEM `file` of the CAs that sign the NATS servers' certificates, for --nats (tls:// URLs)")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "this node's `name` in the cluster, unique in it: letters, digits, - and _, at most 32; default: the host name")
	fs.BoolVar(&c.Embedded, "nats-embedded", c.Embedded, "run a NATS server with JetStream inside hubbub (its store in the directory nats of --data-dir), routing to --nats-routes, and join the cluster through it")
	fs.StringVar(&c.Listen, "nats-listen", c.Listen, "client `address` of the embedded NATS server, where other nodes may connect with --nats")
	fs.StringVar(&c.ClusterListen, "nats-cluster-listen", c.ClusterListen, "route `address` of the embedded NATS server, where the other embedded servers connect; unused without --nats-routes")
	fs.StringVar(&c.Routes, "nats-routes", c.Routes, "comma-separated route `URLs` of the other embedded NATS servers (nats://b:6222,nats://c:6222); this server's own may be listed too")
	fs.IntVar(&c.Replicas, "nats-replicas", c.Replicas, "copies JetStream keeps of the events and of every bucket; 0: 3 when the NATS cluster has at least three servers, else 1 (an existing stream keeps its own)")
	fs.DurationVar(&c.MaxAge, "nats-max-age", c.MaxAge, "events older than this `duration` leave the JetStream stream (each node's history keeps its own copy); 0: kept; else at least 2m, the duplicate window")
}

// on reports whether the node is part of a cluster.
func (c *ClusterConfig) on() bool { return c.NATS != "" || c.Embedded }

// nodeNameRE is what a node name may be: it goes into subjects (hex-encoded), logs and metrics.
var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// splitList splits a comma-separated setting, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// natsURLs checks a list of NATS URLs.
func natsURLs(flagName, list string, schemes ...string) ([]string, error) {
	urls := splitList(list)
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Port() == "" || !slices.Contains(schemes, u.Scheme) {
			shown := s
			if err == nil && u.User != nil {
				shown = u.Redacted()
			}
			return nil, fmt.Errorf("--%s: %q: want %s://host:port", flagName, shown, schemes[0])
		}
	}
	return urls, nil
}

// validate returns what is wrong with the cluster's settings.
func (c *ClusterConfig) validate() []error {
	var errs []error
	if c.on() || c.NodeName != defaultNodeName() {
		if !nodeNameRE.MatchString(c.NodeName) {
			errs = append(errs, fmt.Errorf("--node-name %q: want letters, digits, - and _, at most 32 of them", c.NodeName))
		}
	}
	if _, err := natsURLs("nats", c.NATS, "nats", "tls", "ws", "wss"); err != nil {
		errs = append(errs, err)
	}
	for name, file := range map[string]string{"nats-creds": c.Creds, "nats-tls-ca": c.TLSCA} {
		if file == "" {
			continue
		}
		if c.NATS == "" {
			errs = append(errs, fmt.Errorf("--%s is for the connection to --nats: give --nats too, or drop it", name))
		}
		if _, err := os.Stat(file); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", name, err))
		}
	}
	for name, addr := range map[string]string{"nats-listen": c.Listen, "nats-cluster-listen": c.ClusterListen} {
		if addr == "" && name == "nats-cluster-listen" {
			continue
		}
		_, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("--%s %q: want host:port, such as :4222", name, addr))
		}
	}
	routes, err := natsURLs("nats-routes", c.Routes, "nats", "tls")
	if err != nil {
		errs = append(errs, err)
	}
	if len(routes) > 0 && !c.Embedded {
		errs = append(errs, errors.New("--nats-routes connects the embedded NATS server: give --nats-embedded too"))
	}
	if len(routes) > 0 && c.ClusterListen == "" {
		errs = append(errs, errors.New("--nats-routes needs --nats-cluster-listen, where the others connect back"))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("--nats-replicas must be from 1 to 5, or 0 for automatic, not %d", c.Replicas))
	}
	if c.MaxAge < 0 || (c.MaxAge > 0 && c.MaxAge < natsnode.DuplicateWindow) {
		errs = append(errs, fmt.Errorf("--nats-max-age must be 0 (keep) or at least %v (the duplicate window), not %v", natsnode.DuplicateWindow, c.MaxAge))
	}
	return errs
}

// configuredServers is how many NATS servers the settings name: the --nats URLs, or the
// embedded server and its routes (a route to itself counted once). AutoReplicas takes the
// larger of it and what the connection discovers.
func (c *ClusterConfig) configuredServers() int {
	n := len(splitList(c.NATS))
	if c.Embedded {
		routes := splitList(c.Routes)
		m := len(routes) + 1
		_, own, _ := net.SplitHostPort(c.ClusterListen)
		for _, r := range routes {
			if u, err := url.Parse(r); err == nil && u.Port() == own && isLocalHost(u.Hostname()) {
				m-- // our own route
				break
			}
		}
		n = max(n, m)
	}
	return n
}

func isLocalHost(h string) bool {
	if h == "localhost" || strings.EqualFold(h, defaultNodeName()) {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// startCluster starts the embedded NATS server when asked, connects to NATS and provisions the
// JetStream objects. Without --nats or --nats-embedded it does nothing.
func (m *Main) startCluster() error {
	c := m.cfg.Cluster
	if !c.on() {
		return nil
	}
	m.node = c.NodeName
	urls := splitList(c.NATS)
	if c.Embedded {
		dir, err := m.cfg.dataDir()
		if err != nil {
			return err
		}
		srv, err := natsnode.StartEmbedded(natsnode.Embedded{
			ServerName:    c.NodeName,
			Listen:        c.Listen,
			ClusterListen: c.ClusterListen,
			Routes:        splitList(c.Routes),
			StoreDir:      filepath.Join(dir, "nats"),
		}, m.log)
		if err != nil {
			return err
		}
		m.natsServer = srv
		urls = append([]string{natsnode.ClientURL(srv)}, urls...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	go func() {
		select {
		case <-m.abort:
			cancel()
		case <-ctx.Done():
		}
	}()
	fail := func(err error) error {
		m.stopCluster(context.Background())
		select {
		case <-m.abort:
			return errors.New("start given up on a signal")
		default:
			return err
		}
	}
	m.natsCounters = new(natsnode.Counters)
	m.log.Info("connecting to NATS", "node", c.NodeName, "servers", len(urls))
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{
		URLs: urls, Creds: c.Creds, TLSCA: c.TLSCA, Name: "hubbub " + c.NodeName, Counters: m.natsCounters,
	}, m.log)
	if err != nil {
		return fail(err)
	}
	m.nc, m.js = nc, js
	replicas := c.Replicas
	if replicas == 0 {
		if replicas, err = natsnode.AutoReplicas(ctx, js, c.configuredServers()); err != nil {
			return fail(err)
		}
	}
	m.log.Info("creating or updating the JetStream stream and buckets", "replicas", replicas)
	if err := natsnode.Provision(ctx, js, replicas, c.MaxAge); err != nil {
		return fail(fmt.Errorf("%w (if the cluster has fewer servers than that, set --nats-replicas)", err))
	}
	m.log.Info("cluster", "node", c.NodeName, "replicas", replicas, "nats", nc.ConnectedUrlRedacted())
	m.clusterMetrics()
	return nil
}

// joinCluster makes this node's part in the cluster and has the chat use it: its bus and
// names on NATS, and the index's lag for /history.
func (m *Main) joinCluster(cfg *chat.Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	cl, err := natsbus.New(ctx, natsbus.Config{Conn: m.nc, Node: m.node, Log: m.log})
	if err != nil {
		return err
	}
	m.cluster = cl
	cfg.NewBus, cfg.NewNames = cl.NewBus, cl.NewNames
	// Accounts, web logins and bans are the cluster's, not this node's file's.
	st, err := natsstore.New(ctx, m.js, natsstore.Config{Log: m.log})
	if err != nil {
		m.leaveCluster()
		return fmt.Errorf("cluster: %w", err)
	}
	m.shared = st
	cfg.Bans, cfg.Mutes, cfg.Accounts = st, st, nil
	// Rooms' owners and topics are the cluster's too.
	rs, err := natsstore.OpenRooms(ctx, m.js, m.log)
	if err != nil {
		m.leaveCluster()
		return fmt.Errorf("cluster: %w", err)
	}
	m.roomRecords = rs
	cfg.NewRooms = rs.Bind
	if m.cfg.Accounts != "off" {
		cfg.Accounts = st
	}
	cfg.AccountsRequired = m.cfg.Accounts == "required"
	if m.history != nil {
		cfg.HistoryBehind = cl.HistoryBehind
		m.metrics.Gauge("hubbub_history_index_lag", "Events of other nodes this node's history has not indexed yet.",
			func() float64 { return float64(cl.IndexLag()) })
	}
	m.SetConsumerLag(cl.Lag)
	return nil
}

// leaveCluster stops this node's consumers and frees the names its members held. It may be
// called again.
func (m *Main) leaveCluster() {
	// The rooms' records first: the owners who left pass their rooms on while this node's
	// names and lease still show them leaving, not gone.
	if m.roomRecords != nil {
		m.roomRecords.Close()
		m.roomRecords = nil
	}
	if m.cluster != nil {
		m.cluster.Close()
		m.cluster = nil
	}
	if m.shared != nil {
		if err := m.shared.Close(); err != nil {
			m.log.Error("cluster: closing the accounts and bans", "err", err)
		}
		m.shared = nil
	}
}

// stopCluster closes the NATS connection, then stops the embedded server. It may be called
// again.
func (m *Main) stopCluster(ctx context.Context) error {
	if m.nc != nil {
		m.nc.Close()
	}
	if m.natsServer == nil {
		return nil
	}
	srv := m.natsServer
	m.natsServer = nil
	return natsnode.Shutdown(ctx, srv)
}

// SetConsumerLag gives the bus's consumer lag to /healthz and /metrics. Call it before Run
// returns, or at any time: the lag is read through an atomic.
func (m *Main) SetConsumerLag(lag func() uint64) { m.natsLag.Store(&lag) }

func (m *Main) consumerLag() uint64 {
	if f := m.natsLag.Load(); f != nil && *f != nil {
		return (*f)()
	}
	return 0
}

// natsStatus is the node's view of NATS now.
func (m *Main) natsStatus() natsnode.Status {
	return natsnode.ReadStatus(context.Background(), m.nc, m.js, m.consumerLag)
}

// clusterNotReady says why a node in a cluster should not get users, or "".
func (m *Main) clusterNotReady() string {
	if m.nc == nil {
		return ""
	}
	if why := m.natsStatus().NotReady(); why != "" {
		return "nats: " + why
	}
	return ""
}

// clusterHealth is /healthz's line about NATS, or "" for a node alone. It says nothing of
// addresses: the public listener answers it too.
func (m *Main) clusterHealth() string {
	if m.nc == nil {
		return ""
	}
	st := m.natsStatus()
	conn := "disconnected"
	if st.Connected {
		conn = "connected"
	}
	js := "ok"
	if !st.JetStream {
		js = "unreachable"
	}
	return fmt.Sprintf("nats %s node=%s server=%s cluster_servers=%d jetstream=%s rtt=%s consumer_lag=%d",
		conn, m.node, st.Server, st.Servers, js, st.RTT.Round(time.Microsecond), st.ConsumerLag)
}

// clusterMetrics adds the NATS gauges and counters to /metrics; none has a label.
func (m *Main) clusterMetrics() {
	nc, counters := m.nc, m.natsCounters
	m.metrics.Gauge("hubbub_nats_connected", "1 while the node is connected to NATS, else 0.", func() float64 {
		if nc.IsConnected() {
			return 1
		}
		return 0
	})
	m.metrics.Gauge("hubbub_nats_cluster_servers", "NATS servers the node's connection knows of.", func() float64 {
		return float64(natsnode.KnownServers(nc))
	})
	m.metrics.Gauge("hubbub_nats_consumer_lag", "Events the node's JetStream consumers have yet to deliver.", func() float64 {
		return float64(m.consumerLag())
	})
	m.metrics.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hubbub_nats_reconnects_total",
			Help: "Times the NATS connection was lost and made again."},
			func() float64 { return float64(counters.Reconnects.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hubbub_nats_slow_consumers_total",
			Help: "Times a NATS subscription of the node fell behind and NATS dropped messages for it."},
			func() float64 { return float64(counters.SlowConsumers.Load()) }),
	)
}

// natsLagSlot is the bus's consumer lag function, set by SetConsumerLag.
type natsLagSlot = atomic.Pointer[func() uint64]
