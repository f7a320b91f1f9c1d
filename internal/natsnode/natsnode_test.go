package natsnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"hubbub/internal/chattest"
	"hubbub/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logBuffer is a log the test can read while NATS callbacks write to it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLog(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	var b logBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// connect is Connect for a test: the connection closes when the test ends.
func connect(t *testing.T, opts Options, log *slog.Logger) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	nc, js, err := Connect(ctx, opts, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

// waitFor waits until cond holds, or fails the test after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	chattest.WaitWithin(t, natstest.Timeout, what, cond)
}

func TestHex(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"lobby", "6c6f626279"},
		{"a.b *>", "612e62202a3e"},
		{"Ünï", "c39c6ec3af"},
	}
	for _, tt := range tests {
		if got := Hex(tt.in); got != tt.want {
			t.Errorf("Hex(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := RoomSubject("go.dev"), "hubbub.room.676f2e646576"; got != want {
		t.Errorf("RoomSubject = %q, want %q", got, want)
	}
	if got, want := NodeSubject("a"), "hubbub.node.61"; got != want {
		t.Errorf("NodeSubject = %q, want %q", got, want)
	}
}

// layout is what Provision made, as the server reports it.
type layout struct {
	Stream  jetstream.StreamConfig
	Buckets map[string]jetstream.StreamConfig
}

func readLayout(t *testing.T, js jetstream.JetStream) layout {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	s, err := js.Stream(ctx, EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	l := layout{Stream: s.CachedInfo().Config, Buckets: map[string]jetstream.StreamConfig{}}
	for _, cfg := range BucketConfigs(1) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err != nil {
			t.Fatalf("bucket %s: %v", cfg.Bucket, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.Buckets[cfg.Bucket] = st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	}
	return l
}

// TestProvisionTwiceAndAtOnce: three nodes provisioning at once through three servers, then
// again one after the other, end with one set of objects, as docs/cluster.md has them.
func TestProvisionTwiceAndAtOnce(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	log, _ := testLog(t)
	var jss []jetstream.JetStream
	for i := range 3 {
		_, js := connect(t, Options{URLs: []string{c.URL(i)}, Name: "node" + string(rune('a'+i))}, log)
		jss = append(jss, js)
	}
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	errs := make([]error, len(jss))
	var wg sync.WaitGroup
	for i, js := range jss {
		wg.Go(func() { errs[i] = Provision(ctx, js, 0, 0) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("at once: %v", err)
	}
	first := readLayout(t, jss[0])
	for i, js := range jss {
		if err := Provision(ctx, js, 0, 0); err != nil {
			t.Fatalf("again through %d: %v", i, err)
		}
		if again := readLayout(t, js); !reflect.DeepEqual(first, again) {
			t.Errorf("through %d the objects changed:\n%+v\n%+v", i, first, again)
		}
	}

	st := first.Stream
	if st.Replicas != 3 || st.Storage != jetstream.FileStorage || st.Duplicates != DuplicateWindow || st.MaxAge != 0 {
		t.Errorf("stream: replicas %d, storage %v, duplicates %v, max age %v", st.Replicas, st.Storage, st.Duplicates, st.MaxAge)
	}
	if !reflect.DeepEqual(st.Subjects, []string{"hubbub.room.*", "hubbub.node.*"}) {
		t.Errorf("stream subjects %v", st.Subjects)
	}
	keyTTL := map[string]bool{NamesBucket: true, BansBucket: true, MutesBucket: true, TokensBucket: true, NodesBucket: true}
	if len(first.Buckets) != 7 {
		t.Errorf("%d buckets, want 7", len(first.Buckets))
	}
	for name, b := range first.Buckets {
		if b.Replicas != 3 || b.MaxMsgsPerSubject != 1 || b.Storage != jetstream.FileStorage {
			t.Errorf("%s: replicas %d, history %d, storage %v", name, b.Replicas, b.MaxMsgsPerSubject, b.Storage)
		}
		if b.AllowMsgTTL != keyTTL[name] || (b.SubjectDeleteMarkerTTL != 0) != keyTTL[name] {
			t.Errorf("%s: per-key TTL %v (marker TTL %v), want %v", name, b.AllowMsgTTL, b.SubjectDeleteMarkerTTL, keyTTL[name])
		}
	}

	// A key with a TTL of its own expires: what names and bans rely on.
	kv, err := jss[1].KeyValue(ctx, NamesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, Hex("alice"), []byte("node a"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, Hex("alice"), []byte("node b")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("a second claim: %v, want ErrKeyExists", err)
	}
	waitFor(t, "expiry of a key with a TTL", func() bool {
		_, err := kv.Get(ctx, Hex("alice"))
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})

	// A changed max age is applied to the existing stream.
	if err := Provision(ctx, jss[2], 0, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := readLayout(t, jss[0]).Stream.MaxAge; got != time.Hour {
		t.Errorf("max age %v after an update, want 1h", got)
	}
}

// The events stream takes more consumers than nats-server's default of 1,000 per stream: each
// node reads each of its rooms through one (found by the four-node bench: past 1,000 room
// consumers, nodes could not subscribe to rooms and their members heard nothing).
func TestEventsTakeManyConsumers(t *testing.T) {
	c := natstest.StartOne(t)
	log, _ := testLog(t)
	_, js := connect(t, Options{URLs: c.URLs()}, log)
	ctx, cancel := context.WithTimeout(t.Context(), 2*natstest.Timeout)
	defer cancel()
	if err := Provision(ctx, js, 0, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 1_100 {
		if _, err := js.CreateConsumer(ctx, EventsStream, jetstream.ConsumerConfig{
			FilterSubject: RoomSubject(fmt.Sprint("room", i)),
			MemoryStorage: true,
			AckPolicy:     jetstream.AckNonePolicy,
		}); err != nil {
			t.Fatalf("consumer %d: %v", i+1, err)
		}
	}
}

func TestProvisionRefusesBadSettings(t *testing.T) {
	c := natstest.StartOne(t)
	log, _ := testLog(t)
	_, js := connect(t, Options{URLs: c.URLs()}, log)
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	if err := Provision(ctx, js, 0, time.Minute); err == nil || !strings.Contains(err.Error(), "duplicate window") {
		t.Errorf("max age under the duplicate window: %v", err)
	}
	if err := Provision(ctx, js, 7, 0); err == nil {
		t.Error("7 replicas accepted")
	}
	// One server: R1 automatically.
	if err := Provision(ctx, js, 0, 0); err != nil {
		t.Fatal(err)
	}
	if got := readLayout(t, js).Stream.Replicas; got != 1 {
		t.Errorf("%d replicas on one server, want 1", got)
	}
	// A single server cannot hold three replicas: an error that says so, once ctx ends.
	short, cancel2 := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel2()
	if err := Provision(short, js, 3, 0); err == nil {
		t.Error("R3 accepted by a single server")
	}
}

// TestConnectFailsOver: the server a node is connected to stops; the node moves to another,
// says so once in the log, counts it, and JetStream answers again.
func TestConnectFailsOver(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	log, logs := testLog(t)
	var counters Counters
	// Only one URL: the others are discovered.
	nc, js := connect(t, Options{URLs: []string{c.URL(1)}, Name: "failover", Counters: &counters}, log)
	waitFor(t, "discovery of the cluster", func() bool { return KnownServers(nc) == 3 })
	lag := func() uint64 { return 42 }
	st := ReadStatus(t.Context(), nc, js, lag)
	if !st.Connected || !st.JetStream || st.Servers != 3 || st.ConsumerLag != 42 || st.Server != "n1" || st.Cluster != natstest.ClusterName || st.NotReady() != "" {
		t.Fatalf("status before: %+v", st)
	}
	before := nc.ConnectedServerName()
	c.Stop(c.Index(before))
	waitFor(t, "reconnect to another server", func() bool {
		return nc.IsConnected() && nc.ConnectedServerName() != before && counters.Reconnects.Load() == 1
	})
	waitFor(t, "JetStream after the failover", func() bool {
		st = ReadStatus(t.Context(), nc, js, nil)
		return st.JetStream
	})
	if st.Reconnects != 1 || st.Server == before {
		t.Errorf("status after: %+v", st)
	}
	if n := strings.Count(logs.String(), "nats disconnected"); n != 1 {
		t.Errorf("%d disconnect lines in the log, want 1", n)
	}
	if n := strings.Count(logs.String(), "nats reconnected"); n != 1 {
		t.Errorf("%d reconnect lines in the log, want 1", n)
	}
}

// TestConnectGivesUp: with no server, Connect ends with ctx and a clear error, and logs no line
// per attempt.
func TestConnectGivesUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	log, logs := testLog(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, _, err = Connect(ctx, Options{URLs: []string{"nats://user:secret@" + addr}}, log)
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err = %v, want ErrNoServer", err)
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(logs.String(), "secret") {
		t.Errorf("the password shows: %v\n%s", err, logs)
	}
	// Attempts go on every second or so; none is logged. Only that Connect waits, and perhaps
	// (asynchronously) that the connection was closed.
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, "waiting for a NATS server") && !strings.Contains(line, "nats connection closed") {
			t.Errorf("logged: %s", line)
		}
	}
}

// TestSlowConsumerCounted: a subscription past its pending limit is counted, not logged per
// message.
func TestSlowConsumerCounted(t *testing.T) {
	c := natstest.StartOne(t)
	log, logs := testLog(t)
	var counters Counters
	nc, _ := connect(t, Options{URLs: c.URLs(), Counters: &counters}, log)
	release := make(chan struct{})
	sub, err := nc.Subscribe("slow", func(*nats.Msg) { <-release })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	defer close(release)
	if err := sub.SetPendingLimits(2, -1); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if err := nc.Publish("slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slow consumer count", func() bool { return counters.SlowConsumers.Load() > 0 })
	if n := strings.Count(logs.String(), "asynchronous error"); n > 1 {
		t.Errorf("%d log lines for one slow subscription", n)
	}
}

// TestStartEmbedded: three embedded servers routing to each other (each given the full list,
// its own route included) make one JetStream cluster that a node provisions with three replicas.
func TestStartEmbedded(t *testing.T) {
	log, logs := testLog(t)
	dir := t.TempDir()
	var routes []string
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		routes = append(routes, "nats://"+ln.Addr().String())
		ln.Close()
	}
	var urls []string
	var srvs []*server.Server
	for i, r := range routes {
		name := fmt.Sprintf("e%d", i)
		srv, err := StartEmbedded(Embedded{
			ServerName: name, Listen: "127.0.0.1:0", ClusterListen: strings.TrimPrefix(r, "nats://"),
			Routes: routes, StoreDir: filepath.Join(dir, name),
		}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := Shutdown(context.Background(), srv); err != nil {
				t.Error(err)
			}
		})
		urls = append(urls, ClientURL(srv))
		srvs = append(srvs, srv)
	}
	nc, js := connect(t, Options{URLs: urls[:1]}, log)
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	replicas, err := AutoReplicas(ctx, js, len(routes))
	if err != nil || replicas != 3 {
		t.Fatalf("AutoReplicas = %d, %v; want 3", replicas, err)
	}
	if err := Provision(ctx, js, replicas, 0); err != nil {
		t.Fatal(err)
	}
	if got := readLayout(t, js).Stream.Replicas; got != 3 {
		t.Errorf("%d replicas, want 3", got)
	}
	// Now that the stream exists, its replicas are what AutoReplicas says, whatever it is told.
	if replicas, err := AutoReplicas(ctx, js, 1); err != nil || replicas != 3 {
		t.Errorf("AutoReplicas of an existing stream = %d, %v; want 3", replicas, err)
	}
	waitFor(t, "discovery of the cluster", func() bool { return KnownServers(nc) == 3 })

	// A server goes away: the others say so once, not at each attempt (one a second) to reach it.
	if err := Shutdown(ctx, srvs[2]); err != nil {
		t.Fatal(err)
	}
	attempt1 := regexp.MustCompile(`Error trying to connect to route \(attempt 1\)`)
	later := regexp.MustCompile(`Error trying to connect to route \(attempt ([2-9]|\d\d+)\)`)
	waitFor(t, "a failed attempt to reach the stopped server", func() bool { return attempt1.MatchString(logs.String()) })
	// Nothing marks an attempt that is not logged, so the check is over a window: four
	// seconds hold three or four more attempts, and none may be logged.
	window := time.NewTimer(4 * time.Second)
	defer window.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-window.C:
			return
		case <-tick.C:
			if m := later.FindString(logs.String()); m != "" {
				t.Fatalf("logged again: %s", m)
			}
		}
	}
}

// TestEmbeddedAlone: with a route address but no routes (the flags' defaults), the server runs
// JetStream alone instead of failing to.
func TestEmbeddedAlone(t *testing.T) {
	log, _ := testLog(t)
	srv, err := StartEmbedded(Embedded{ServerName: "alone", Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0", StoreDir: t.TempDir()}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Shutdown(context.Background(), srv) })
	_, js := connect(t, Options{URLs: []string{ClientURL(srv)}}, log)
	ctx, cancel := context.WithTimeout(t.Context(), natstest.Timeout)
	defer cancel()
	if err := Provision(ctx, js, 0, 0); err != nil {
		t.Fatal(err)
	}
}

// TestEmbeddedPortTaken: a server that cannot listen says why (at once, not after a timeout).
func TestEmbeddedPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	log, _ := testLog(t)
	srv, err := StartEmbedded(Embedded{ServerName: "taken", Listen: ln.Addr().String(), StoreDir: t.TempDir()}, log)
	if err == nil {
		Shutdown(context.Background(), srv)
		t.Fatal("started on a port in use")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("err = %v, want one that says the address is in use", err)
	}
}

func TestEmbeddedBadConfig(t *testing.T) {
	log, _ := testLog(t)
	tests := []struct {
		name string
		cfg  Embedded
		want string
	}{
		{"no store", Embedded{Listen: "127.0.0.1:0"}, "store"},
		{"bad listen", Embedded{Listen: "nonsense", StoreDir: t.TempDir()}, "listen address"},
		{"routes without cluster", Embedded{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Routes: []string{"nats://a:6222"}}, "cluster listen"},
		{"bad route", Embedded{Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0", StoreDir: t.TempDir(), Routes: []string{"::"}}, "route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := StartEmbedded(tt.cfg, log)
			if err == nil {
				srv.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one about %q", err, tt.want)
			}
		})
	}
}
