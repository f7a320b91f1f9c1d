package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
)

// node is one hubbub node of a test cluster: a hub on a natsbus.Cluster.
type node struct {
	hub     *chat.Hub
	cluster *natsbus.Cluster
	nc      *nats.Conn
	closed  bool
}

// startNodes starts one hub per NATS server of c, named a, b, c..., each connected to its own
// server, with names claimed for ttl.
func startNodes(t *testing.T, c *natstest.Cluster, n int, ttl time.Duration) []*node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var nodes []*node
	for i := range n {
		name := string(rune('a' + i))
		nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: []string{c.URL(i % len(c.URLs()))}, Name: name}, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := natsnode.Provision(ctx, js, 0, 0); err != nil {
			t.Fatal(err)
		}
		cl, err := natsbus.New(ctx, natsbus.Config{Conn: nc, Node: name, NameTTL: ttl, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		cfg := chat.DefaultConfig()
		cfg.OperPassword = "operators"
		cfg.NewBus, cfg.NewNames = cl.NewBus, cl.NewNames
		nd := &node{hub: chat.NewHub(cfg, log), cluster: cl, nc: nc}
		nodes = append(nodes, nd)
		t.Cleanup(func() {
			if !nd.closed {
				nd.cluster.Close()
			}
			nc.Close()
		})
	}
	return nodes
}

// Users on three nodes in one room: every line reaches every member once, and every member
// sees the room's lines in one order, whoever said them and wherever.
func TestOneRoomAcrossNodes(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 3, 0)
	type user struct {
		s   *chat.Session
		got *chattest.Recorder
	}
	var users []user
	for i, nd := range nodes {
		s, got := chattest.Enter(t, nd.hub, fmt.Sprintf("127.0.0.%d", i+2), fmt.Sprintf("user%d", i))
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
		users = append(users, user{s, got})
	}
	// Each hears the joins of those who came after it, from the other nodes.
	for i, u := range users {
		for _, later := range users[i+1:] {
			name := later.s.Name()
			u.got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindJoin && m.From == name && m.Room == "#go" })
		}
	}
	const each = 30
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for j := range each {
				if err := u.s.Say("#go", fmt.Sprint("line ", j)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var first []string
	for i, u := range users {
		// Each member's own lines are not sent back to it: the others' are, in the room's
		// order; so compare each member's view with the others' lines only.
		var seen []string
		for len(seen) < each*(len(users)-1) {
			m := u.got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindChat && m.Room == "#go" })
			seen = append(seen, m.From+": "+m.Text)
		}
		if i == 0 {
			first = seen
			continue
		}
		// The order of the lines both saw is the same.
		common := func(v []string, except1, except2 string) []string {
			return slices.DeleteFunc(slices.Clone(v), func(s string) bool {
				return strings.HasPrefix(s, except1+":") || strings.HasPrefix(s, except2+":")
			})
		}
		a := common(first, users[0].s.Name(), users[i].s.Name())
		b := common(seen, users[0].s.Name(), users[i].s.Name())
		if !slices.Equal(a, b) {
			t.Errorf("user0 and user%d saw the lines of the others in different orders:\n%q\n%q", i, a, b)
		}
	}
}

// try connects to nd's hub from addr and answers the name prompt with name: the session, and
// whether it entered.
func try(t *testing.T, nd *node, addr, name string) (*chat.Session, *chattest.Recorder, bool) {
	t.Helper()
	rec := &chattest.Recorder{}
	s, err := nd.hub.Connect(rec, chat.Peer{Addr: netip.MustParseAddr(addr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Handle([]byte(name)); err != nil {
		t.Fatal(err)
	}
	return s, rec, s.Registered()
}

// A name is held once in the whole cluster: of clients racing for it on different nodes,
// exactly one gets it, and so for its look-alikes; it is free again once its holder leaves.
func TestNameUniqueAcrossNodes(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 3, 0)
	for round, names := range [][]string{{"dave", "dave", "dave"}, {"erin", "ERIN", "\u0435rin"}} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []*chat.Session
		for i, nd := range nodes {
			wg.Go(func() {
				s, _, ok := try(t, nd, fmt.Sprintf("127.0.0.%d", 10+i), names[i])
				if ok {
					mu.Lock()
					won = append(won, s)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d of %q entered, want exactly 1", round, len(won), names)
		}
		won[0].Close()
		// Released by its node: another node gives it at once.
		if _, got, ok := try(t, nodes[round], "127.0.0.20", names[0]); !ok {
			t.Errorf("round %d: %s not free once its holder left: %v", round, names[0], got.Take())
		}
	}
}

// A node that dies holding names (its NATS connection gone, nothing released) frees them when
// their TTL ends, and not before; and a node whose claims cannot be refreshed disconnects
// their members rather than let a name be held twice.
func TestNamesOfADeadNodeExpire(t *testing.T) {
	const ttl = 2 * time.Second
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, ttl)
	_, frankGot, ok := try(t, nodes[0], "127.0.0.2", "frank")
	if !ok {
		t.Fatal("frank did not enter")
	}
	if _, _, ok := try(t, nodes[1], "127.0.0.3", "frank"); ok {
		t.Fatal("frank entered twice")
	}
	// Node a dies: its connection closes with nothing released.
	nodes[0].nc.Close()
	// Its member is disconnected once its claim is about to expire unrefreshed.
	deadline := time.Now().Add(chattest.Timeout)
	for frankGot.Dropped() == "" && time.Now().Before(deadline) {
		frankGot.Next(t, func(*chat.Message) bool { return true })
	}
	if frankGot.Dropped() != chat.DropNameLost {
		t.Errorf("frank, on a node cut off, was dropped for %q, want %q", frankGot.Dropped(), chat.DropNameLost)
	}
	// And the name is free on node b within the TTL (and some).
	var entered bool
	for !entered && time.Now().Before(deadline) {
		_, _, entered = try(t, nodes[1], "127.0.0.3", "frank")
	}
	if !entered {
		t.Errorf("frank still held %v after its node died", chattest.Timeout)
	}
	nodes[0].closed = true
	nodes[0].cluster.Close()
}
