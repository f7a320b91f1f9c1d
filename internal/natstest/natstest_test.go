package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// connect connects to urls and closes the connection when the test ends.
func connect(t *testing.T, urls ...string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(urls[0], nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func TestClusterTakesAnR3Stream(t *testing.T) {
	c := StartCluster(t, 3)
	if got := len(c.URLs()); got != 3 {
		t.Fatalf("%d URLs, want 3", got)
	}
	// Through each server: the cluster is one.
	for i := range 3 {
		_, js := connect(t, c.URL(i))
		ctx, cancel := context.WithTimeout(t.Context(), Timeout)
		defer cancel()
		if i == 0 {
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(s.CachedInfo().Cluster.Replicas) + 1; got != 3 {
				t.Fatalf("stream on %d servers, want 3", got)
			}
			if _, err := js.Publish(ctx, "r3.x", []byte("hello")); err != nil {
				t.Fatal(err)
			}
			continue
		}
		s, err := js.Stream(ctx, "R3")
		if err != nil {
			t.Fatalf("through server %d: %v", i, err)
		}
		if msgs := s.CachedInfo().State.Msgs; msgs != 1 {
			t.Errorf("through server %d: %d messages, want 1", i, msgs)
		}
	}
}

func TestStartOne(t *testing.T) {
	c := StartOne(t)
	_, js := connect(t, c.URL(0))
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ONE", Subjects: []string{"one"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "THREE", Subjects: []string{"three"}, Replicas: 3}); err == nil {
		t.Error("a single server took an R3 stream")
	}
}

// TestStopAndRestart: a stopped server refuses clients, a restarted one keeps its store.
func TestStopAndRestart(t *testing.T) {
	c := StartOne(t)
	_, js := connect(t, c.URL(0))
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept"}}); err != nil {
		t.Fatal(err)
	}
	c.Stop(0)
	if c.Server(0) != nil {
		t.Error("a stopped server is still there")
	}
	if nc, err := nats.Connect(c.URL(0), nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Fatal("a stopped server took a client")
	}
	c.Restart(0)
	_, js = connect(t, c.URL(0))
	if _, err := js.Stream(ctx, "KEPT"); err != nil {
		t.Errorf("after restart: %v", err)
	}
}
