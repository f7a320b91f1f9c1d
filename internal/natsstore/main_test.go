package natsstore_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is one connection to a test cluster, with a store on it.
type node struct {
	store *natsstore.Store
	js    jetstream.JetStream
}

// startStores starts a cluster of three NATS servers and returns a store on each, each through
// its own connection to its own server: what three hubbub nodes would have.
func startStores(t *testing.T, cfg natsstore.Config) []node {
	t.Helper()
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), natstest.Timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	var nodes []node
	for i := range 3 {
		nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: []string{c.URL(i)}, Name: string(rune('a' + i))}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		if i == 0 {
			if err := natsnode.Provision(ctx, js, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		s, err := natsstore.New(ctx, js, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		nodes = append(nodes, node{store: s, js: js})
	}
	return nodes
}

func account(t *testing.T, name, hash string) chat.Account {
	t.Helper()
	n := parse(t, name)
	return chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Unix(1700000000, 123456789)}
}

func parse(t *testing.T, name string) chat.Name {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func find(t *testing.T, s *natsstore.Store, name string) (chat.Account, bool) {
	t.Helper()
	a, ok, err := s.FindAccount(t.Context(), parse(t, name).Keys())
	if err != nil {
		t.Fatalf("find %q: %v", name, err)
	}
	return a, ok
}

func create(t *testing.T, s *natsstore.Store, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := s.CreateAccount(t.Context(), account(t, name, "h-"+name)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
}
