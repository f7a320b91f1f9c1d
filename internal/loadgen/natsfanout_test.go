package loadgen_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"hubbub/internal/loadgen"
)

// envInt reads a whole number from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number >= 1", name, v)
	}
	return n
}

// TestNATSFanout measures nats-server's own fan-out, the figure to hold hubbub's cluster
// fan-out against (docs/benchmarks.md): as in `hubbub bench fanout`, USERS subscribers (one
// connection each, spread over the servers in turn) and SENDERS publishers of MSGS
// timestamped messages each on one subject, core NATS, no JetStream; it reports deliveries/s
// and latency. It runs only when HUBBUB_NATS_FANOUT names the servers (nats://127.0.0.1:P,...):
//
//	HUBBUB_NATS_FANOUT=nats://127.0.0.1:4222 HUBBUB_NATS_USERS=1000 go test -v -run TestNATSFanout ./internal/loadgen/
func TestNATSFanout(t *testing.T) {
	urls := os.Getenv("HUBBUB_NATS_FANOUT")
	if urls == "" {
		t.Skip("HUBBUB_NATS_FANOUT names no nats-server to measure")
	}
	servers := strings.Split(urls, ",")
	users, senders, msgs := envInt(t, "HUBBUB_NATS_USERS", 100), envInt(t, "HUBBUB_NATS_SENDERS", 10), envInt(t, "HUBBUB_NATS_MSGS", 1000)
	for _, s := range servers {
		if !strings.HasPrefix(s, "nats://127.") {
			t.Fatalf("%q: only nats://127.x.x.x servers", s)
		}
	}
	connect := func(i int) *nats.Conn {
		t.Helper()
		nc, err := nats.Connect(servers[i%len(servers)], nats.Timeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	subject := fmt.Sprintf("fanout.%d", time.Now().UnixNano())
	want := int64(users) * int64(senders) * int64(msgs)
	var got atomic.Int64
	var mu sync.Mutex
	all := &loadgen.Hist{}
	var last atomic.Int64
	done := make(chan struct{})
	for i := range users {
		nc := connect(i)
		h := &loadgen.Hist{}
		var n int64
		sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
			now := time.Now().UnixNano()
			sent, _ := strconv.ParseInt(string(m.Data[strings.LastIndexByte(string(m.Data), ' ')+1:]), 10, 64)
			h.Record(time.Duration(now - sent))
			storeLast(&last, now)
			if n++; n == int64(senders*msgs) {
				mu.Lock()
				all.Merge(h)
				mu.Unlock()
			}
			if got.Add(1) == want {
				close(done)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1) // count, do not drop: the publishers are not paced
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	pubs := make([]*nats.Conn, senders)
	for i := range pubs {
		pubs[i] = connect(i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, nc := range pubs {
		wg.Go(func() {
			for seq := range msgs {
				nc.Publish(subject, fmt.Appendf(nil, "m run %d %d %d", i, seq, time.Now().UnixNano()))
			}
			nc.Flush()
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Errorf("only %d of %d deliveries", got.Load(), want)
	}
	took := time.Duration(last.Load() - start.UnixNano())
	mu.Lock()
	defer mu.Unlock()
	t.Logf("nats fan-out over %d server(s): %d subscribers, %d publishers x %d: %d deliveries in %v = %.2f M/s; latency p50 %v p99 %v max %v",
		len(servers), users, senders, msgs, got.Load(), took, float64(got.Load())/took.Seconds()/1e6,
		all.Quantile(0.5), all.Quantile(0.99), all.Max())
}

func storeLast(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}
