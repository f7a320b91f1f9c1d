package natsbus_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
)

// connect connects a node named name to NATS server i of c, provisioning the stream and buckets.
// alone: the connection never moves to another server, so stopping server i cuts it off.
func connect(t *testing.T, c *natstest.Cluster, i int, name string, alone bool) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nc *nats.Conn
	var js jetstream.JetStream
	var err error
	if alone {
		nc, err = nats.Connect(c.URL(i), nats.Name(name), nats.IgnoreDiscoveredServers(), nats.MaxReconnects(-1),
			nats.ReconnectWait(100*time.Millisecond))
		if err == nil {
			js, err = jetstream.New(nc)
		}
	} else {
		nc, js, err = natsnode.Connect(ctx, natsnode.Options{URLs: []string{c.URL(i)}, Name: name}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := natsnode.Provision(ctx, js, min(3, len(c.URLs())), 0); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// A node cut off from NATS (its only server stopped) disconnects its members before its lease
// expires, so that when another node may take their names they are gone from the first; the
// other node then gives the name, and its members see the cut-off member leave.
func TestCutOffNodeDropsItsMembersFirst(t *testing.T) {
	const ttl = 3 * time.Second
	c := natstest.StartCluster(t, 3)
	ncB, jsB := connect(t, c, 1, "b", false)
	b := startNode(t, ncB, jsB, "b", ttl)
	ncA, jsA := connect(t, c, 0, "a", true)
	a := startNode(t, ncA, jsA, "a", ttl)
	frank, frankGot := chattest.Enter(t, a.hub, "127.0.0.2", "frank")
	bob, bobGot := chattest.Enter(t, b.hub, "127.0.0.3", "bob")
	for _, s := range []*chat.Session{frank, bob} {
		if err := s.Join("#x"); err != nil {
			t.Fatal(err)
		}
	}
	chattest.WaitFor(t, "bob sees frank in #x", func() bool {
		who, err := bob.Who("#x")
		return err == nil && len(who.Members) == 2
	})
	c.Stop(0)
	// The lease expires within the TTL, but the stream that keeps it may need to elect a
	// leader first (it may have been on the server stopped).
	start := time.Now()
	deadline := start.Add(natstest.Timeout)
	for {
		s, _, ok := try(t, b, "127.0.0.4", "frank")
		if ok {
			if d := frankGot.Dropped(); d != chat.DropNameLost {
				t.Fatalf("frank was given on node b while node a still had him (dropped: %q)", d)
			}
			s.Close()
			t.Logf("frank free on node b %v after node a was cut off", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("frank not free on node b %v after node a was cut off", natstest.Timeout)
		}
	}
	bobGot.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindQuit && m.From == "frank" && m.Text == "connection lost"
	})
}

// A node that died holding names and is started again under the same name is another
// incarnation: it waits for its predecessor's lease to end, and does not keep the
// predecessor's names; they are free on every node, its own too.
func TestRestartedNodeDoesNotKeepItsNames(t *testing.T) {
	const ttl = 2 * time.Second
	c := natstest.StartCluster(t, 3)
	nodes := startNodes(t, c, 2, ttl)
	if _, _, ok := try(t, nodes[0], "127.0.0.2", "frank"); !ok {
		t.Fatal("frank did not enter")
	}
	if _, _, ok := try(t, nodes[0], "127.0.0.2", "grace"); !ok {
		t.Fatal("grace did not enter")
	}
	nodes[0].nc.Close() // node a dies, nothing released
	nc, js := connect(t, c, 0, "a", false)
	again := startNode(t, nc, js, "a", ttl)
	chattest.WaitFor(t, "frank free on node b", func() bool {
		s, _, ok := try(t, nodes[1], "127.0.0.3", "frank")
		if ok {
			s.Close()
		}
		return ok
	})
	chattest.WaitFor(t, "grace free on node a again", func() bool {
		s, _, ok := try(t, again, "127.0.0.4", "grace")
		if ok {
			s.Close()
		}
		return ok
	})
	nodes[0].closed = true
	nodes[0].cluster.Close()
}

// Once a node's lease ended (its member no longer shown anywhere), a claim of its member's
// name succeeds at once: it does not wait for the name's key to be collected or expire.
func TestNameOfADeadNodeFreeAtOnce(t *testing.T) {
	const ttl = 2 * time.Second
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, ttl)
	if _, _, ok := try(t, nodes[0], "127.0.0.2", "frank"); !ok {
		t.Fatal("frank did not enter")
	}
	bob, _ := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	chattest.WaitFor(t, "node b sees frank", func() bool { _, err := bob.Whois("frank"); return err == nil })
	nodes[0].nc.Close()
	chattest.WaitFor(t, "node b no longer sees frank", func() bool { _, err := bob.Whois("frank"); return err != nil })
	if _, _, ok := try(t, nodes[1], "127.0.0.4", "frank"); !ok {
		t.Error("frank, of a dead node, not free once its lease ended")
	}
	nodes[0].closed = true
	nodes[0].cluster.Close()
}

// Holding names costs no writes: while members stay as they are, the names bucket is not
// written, only the node's lease is renewed.
func TestHoldingNamesWritesNothing(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	nodes := startNodes(t, natstest.StartOne(t), 1, ttl)
	for _, name := range []string{"ann", "ben", "cy", "dee", "eve", "fay", "gus", "hal", "ida", "jo"} {
		s, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", name)
		if err := s.Join("#x"); err != nil {
			t.Fatal(err)
		}
	}
	js, err := jetstream.New(nodes[0].nc)
	if err != nil {
		t.Fatal(err)
	}
	last := func(stream string) uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.LastSeq
	}
	renewals := func(n uint64) {
		t.Helper()
		from := last("KV_" + natsnode.NodesBucket)
		chattest.WaitFor(t, "the lease renewed", func() bool { return last("KV_"+natsnode.NodesBucket) >= from+n })
	}
	renewals(1) // the members' values are written by then
	before := last("KV_" + natsnode.NamesBucket)
	renewals(4) // more than a TTL
	if after := last("KV_" + natsnode.NamesBucket); after != before {
		t.Errorf("the names bucket was written %d times while its members stayed as they were", after-before)
	}
}
