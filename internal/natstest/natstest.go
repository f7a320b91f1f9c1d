// Package natstest starts real nats-servers with JetStream inside a test: one, or a cluster of
// several with routes between them, on free ports of 127.0.0.1, with their stores in the test's
// temporary directory. It is for tests only.
//
// Each cluster checks, when its test ends, that every goroutine started since it started has
// ended (goleak): a test that uses it must not run in parallel with others (t.Parallel), whose
// goroutines it would count.
package natstest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// Timeout bounds each wait of this package: generous, for a loaded machine.
const Timeout = 60 * time.Second

// ClusterName is the name of every cluster StartCluster starts.
const ClusterName = "natstest"

// Cluster is nats-servers started by a test. Its methods are for the test's goroutine.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex // guards servers
	servers []*server.Server
	opts    []*server.Options
}

// StartOne starts a single nats-server with JetStream, without a cluster.
func StartOne(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	c.watchLeaks()
	port := freePorts(t, 1)[0]
	o := baseOptions(t, "n0", port)
	c.opts = []*server.Options{o}
	c.servers = []*server.Server{c.start(o)}
	c.waitJetStream(1)
	return c
}

// StartCluster starts n nats-servers with JetStream, each routing to every other, and waits
// until JetStream has a meta leader that sees all n and can place a stream on min(n, 3) of
// them. t.Cleanup stops them and checks that no goroutine of theirs (or of the test's NATS
// connections) outlived them.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: a cluster of %d servers", n)
	}
	c := &Cluster{t: t}
	c.watchLeaks()
	// Route addresses must be known before any server starts, so ports are picked by listening
	// on :0 and closing; another process may take one in between, so a failed start is retried
	// on fresh ports.
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, 2*n)
		var routes []*url.URL
		for i := range n {
			routes = append(routes, &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[n+i]))})
		}
		c.opts = nil
		for i := range n {
			o := baseOptions(t, "n"+strconv.Itoa(i), ports[i])
			o.Cluster.Name = ClusterName
			o.Cluster.Host = "127.0.0.1"
			o.Cluster.Port = ports[n+i]
			o.Routes = routes
			c.opts = append(c.opts, o)
		}
		err := c.startAll()
		if err == nil {
			break
		}
		c.shutdownAll()
		if attempt == 3 {
			t.Fatalf("natstest: %v", err)
		}
		t.Logf("natstest: %v; again on other ports", err)
	}
	c.waitJetStream(min(n, 3))
	return c
}

// watchLeaks registers the check that every goroutine started from now on has ended once the
// cluster is stopped (the stop runs before it: cleanups run last registered first).
func (c *Cluster) watchLeaks() {
	// The servers' stores go in the test's temporary directory, which is removed by a cleanup
	// registered at its first use: made here, before the stop is registered, it is removed
	// after the servers stopped writing to it, not under a running one (CI: "directory not
	// empty" when a server made a file while it was being removed).
	c.t.TempDir()
	ignore := goleak.IgnoreCurrent()
	c.t.Cleanup(func() {
		// goleak.Find retries for about a second and a half; a loaded machine (CI, -race) may
		// take longer to let a stopped server's store goroutines (flushLoop) run to their end.
		deadline := time.Now().Add(15 * time.Second)
		err := goleak.Find(ignore)
		for err != nil && time.Now().Before(deadline) {
			err = goleak.Find(ignore)
		}
		if err != nil {
			c.t.Errorf("natstest: goroutines outlived the NATS servers: %v", err)
		}
	})
	c.t.Cleanup(c.shutdownAll)
}

// baseOptions are a JetStream server's options, silent, with its store in a temporary directory.
func baseOptions(t testing.TB, name string, port int) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(t.TempDir(), name),
		NoLog:      true,
		NoSigs:     true,
		// Small enough that several servers in one test machine reserve nothing surprising.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
	}
}

func (c *Cluster) startAll() error {
	servers := make([]*server.Server, len(c.opts))
	for i, o := range c.opts {
		s, err := server.NewServer(o.Clone())
		if err != nil {
			return fmt.Errorf("server %d: %w", i, err)
		}
		s.Start()
		servers[i] = s
	}
	c.mu.Lock()
	c.servers = servers
	c.mu.Unlock()
	for i, s := range servers {
		if !s.ReadyForConnections(Timeout) {
			return fmt.Errorf("server %d did not accept clients on port %d", i, c.opts[i].Port)
		}
	}
	return nil
}

// start starts one server and waits until it accepts clients.
func (c *Cluster) start(o *server.Options) *server.Server {
	c.t.Helper()
	s, err := server.NewServer(o.Clone())
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	s.Start()
	if !s.ReadyForConnections(Timeout) {
		s.Shutdown()
		c.t.Fatalf("natstest: server %s did not accept clients on port %d", o.ServerName, o.Port)
	}
	return s
}

func (c *Cluster) shutdownAll() {
	c.mu.Lock()
	servers := c.servers
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range servers {
		if s != nil {
			wg.Go(func() {
				s.Shutdown()
				s.WaitForShutdown()
			})
		}
	}
	wg.Wait()
}

// freePorts returns n ports that were free a moment ago on 127.0.0.1.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// waitJetStream waits until a meta leader sees every running server as a peer and a stream
// with replicas can be created through server 0 (and deleted again).
func (c *Cluster) waitJetStream(replicas int) {
	c.t.Helper()
	deadline := time.Now().Add(Timeout)
	if len(c.opts) > 1 {
		for !c.metaComplete() {
			if time.Now().After(deadline) {
				c.t.Fatalf("natstest: no JetStream meta leader sees all %d servers after %v", len(c.opts), Timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	nc, err := nats.Connect(c.URL(0), nats.Timeout(5*time.Second))
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatalf("natstest: %v", err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: "NATSTEST_PROBE", Subjects: []string{"natstest.probe"},
			Storage: jetstream.MemoryStorage, Replicas: replicas,
		})
		if err == nil {
			err = js.DeleteStream(ctx, "NATSTEST_PROBE")
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("natstest: JetStream cannot place an R%d stream after %v: %v", replicas, Timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metaComplete reports whether some server leads the JetStream meta group and sees every
// server of the cluster as its peer.
func (c *Cluster) metaComplete() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(c.opts) {
			return true
		}
	}
	return false
}

// URLs are the client URLs of every server, running or stopped, in order.
func (c *Cluster) URLs() []string {
	var out []string
	for i := range c.opts {
		out = append(out, c.URL(i))
	}
	return out
}

// URL is server i's client URL.
func (c *Cluster) URL(i int) string {
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.opts[i].Port))
}

// Server is server i, or nil while it is stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Index is the index of the server called name (nats.Conn.ConnectedServerName), or -1.
func (c *Cluster) Index(name string) int {
	for i, o := range c.opts {
		if o.ServerName == name {
			return i
		}
	}
	return -1
}

// Stop shuts server i down and waits until it has stopped; its store stays for Restart.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts server i again, stopped or not, with its options and its store, and waits
// until it accepts clients (not until it has caught up with the cluster).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	s := c.start(c.opts[i])
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}
