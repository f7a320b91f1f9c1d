package natsstore_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/natstest"
)

// hubNode is a hubbub node of a test cluster: a hub on natsbus, with its accounts and bans in
// natsstore.
type hubNode struct {
	hub   *chat.Hub
	store *natsstore.Store
	js    jetstream.JetStream
}

// startHubs starts n hubs, each connected to its own server of c, as natsbus's tests do, with
// cfg.Accounts and cfg.Bans a natsstore on each node's connection.
func startHubs(t *testing.T, c *natstest.Cluster, n int) []hubNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natstest.Timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var nodes []hubNode
	for i := range n {
		name := string(rune('a' + i))
		nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: []string{c.URL(i)}, Name: name}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		if err := natsnode.Provision(ctx, js, 0, 0); err != nil {
			t.Fatal(err)
		}
		cl, err := natsbus.New(ctx, natsbus.Config{Conn: nc, Node: name, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		store, err := natsstore.New(ctx, js, natsstore.Config{Log: log})
		if err != nil {
			t.Fatal(err)
		}
		cfg := chat.DefaultConfig()
		cfg.NewBus, cfg.NewNames = cl.NewBus, cl.NewNames
		cfg.Accounts, cfg.Bans = store, store
		hub := chat.NewHub(cfg, log)
		if err := hub.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cl.Close()
			if err := store.Close(); err != nil {
				t.Error(err)
			}
		})
		nodes = append(nodes, hubNode{hub: hub, store: store, js: js})
	}
	return nodes
}

// TestAccountAcrossHubs: alice registers on node a, leaves, and logs in with her password on
// node b; a look-alike of her name on node b is asked for her password while she is away.
func TestAccountAcrossHubs(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nodes := startHubs(t, c, 2)
	const pw = "correct horse battery"

	alice, got := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	for _, line := range []string{"/register", pw, pw} {
		if err := alice.Handle([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got.Next(t, func(m *chat.Message) bool { return strings.Contains(m.Text, "alice is registered to you") })
	if alice.Account() != "alice" {
		t.Fatalf("after /register alice's account is %q", alice.Account())
	}
	alice.Close()
	names, err := nodes[1].js.KeyValue(t.Context(), natsnode.NamesBucket)
	if err != nil {
		t.Fatal(err)
	}
	chattest.WaitFor(t, "alice's name freed", func() bool {
		_, err := names.Get(t.Context(), natsnode.Hex(parse(t, "alice").Keys()[0]))
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	})

	// A look-alike on node b is asked for alice's password, not let in as a guest.
	rec := &chattest.Recorder{}
	mallory, err := nodes[1].hub.Connect(rec, chat.Peer{Addr: netip.MustParseAddr("127.0.0.4")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mallory.Close)
	if err := mallory.Handle([]byte("AIice")); err != nil {
		t.Fatal(err)
	}
	rec.Next(t, func(m *chat.Message) bool { return strings.Contains(m.Text, "password for alice") })
	if mallory.Registered() {
		t.Fatal("a look-alike of alice's account entered node b without her password")
	}
	mallory.Close()

	again, _ := chattest.EnterAs(t, nodes[1].hub, "127.0.0.3", "alice", pw)
	if again.Account() != "alice" {
		t.Errorf("alice logged in on node b with account %q", again.Account())
	}
}
