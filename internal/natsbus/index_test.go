package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
	"hubbub/internal/sqlite"
)

// indexedNode is a hub on a natsbus.Cluster whose history, a SQLite file of its own, is fed
// from the stream.
type indexedNode struct {
	node
	store *sqlite.Store
}

// startIndexed starts the node called name on the NATS server at url, with its history at
// path, and starts indexing the stream into it through index (the store itself when nil).
func startIndexed(t *testing.T, url, name, path string, index func(*sqlite.Store) natsbus.Indexer) *indexedNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: []string{url}, Name: name}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsnode.Provision(ctx, js, 0, 0); err != nil {
		t.Fatal(err)
	}
	cl, err := natsbus.New(ctx, natsbus.Config{Conn: nc, Node: name, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sqlite.DefaultConfig(path)
	cfg.RetainEvery = 0
	store, err := sqlite.Open(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	hcfg := chat.DefaultConfig()
	hcfg.NewBus, hcfg.NewNames = cl.NewBus, cl.NewNames
	hcfg.History, hcfg.HistoryBehind = store, cl.HistoryBehind
	nd := &indexedNode{node: node{hub: chat.NewHub(hcfg, log), cluster: cl, nc: nc}, store: store}
	t.Cleanup(nd.stop)
	var ix natsbus.Indexer = store
	if index != nil {
		ix = index(store)
	}
	if err := cl.StartIndex(ix, nd.hub.Indexed); err != nil {
		t.Fatal(err)
	}
	return nd
}

// stop stops the node as a node that shuts down does: its cluster first, then its history.
func (nd *indexedNode) stop() {
	if nd.closed {
		return
	}
	nd.closed = true
	nd.cluster.Close()
	nd.store.Close()
	nd.nc.Close()
}

// history returns what s is shown of #go's history, as "from: text".
func history(t *testing.T, s *chat.Session) []string {
	t.Helper()
	msgs, err := s.History("#go", 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.From+": "+m.Text)
	}
	return out
}

// Users on three nodes talk in one room: every node's history ends up with every line, in
// its own order, /search on each node finds a word said on another, and a member who joins
// the room on a node is replayed the lines said on the others.
func TestHistoryAcrossNodes(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	var nodes []*indexedNode
	var users []*chat.Session
	for i := range 3 {
		name := string(rune('a' + i))
		nd := startIndexed(t, c.URL(i), name, filepath.Join(t.TempDir(), name+".db"), nil)
		s, _ := chattest.Enter(t, nd.hub, fmt.Sprintf("127.0.0.%d", i+2), fmt.Sprintf("user%d", i))
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
		nodes, users = append(nodes, nd), append(users, s)
	}
	const each = 20
	var want []string
	var wg sync.WaitGroup
	for i, s := range users {
		for j := range each {
			want = append(want, fmt.Sprintf("user%d: line %d, word%d", i, j, i))
		}
		wg.Go(func() {
			for j := range each {
				if err := s.Say("#go", fmt.Sprintf("line %d, word%d", j, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(want)
	for i, s := range users {
		chattest.WaitFor(t, fmt.Sprintf("node %d's history holds every line", i), func() bool {
			got := history(t, s)
			slices.Sort(got)
			return slices.Equal(got, want)
		})
		// Each node's lines in the order that node said them.
		got := history(t, s)
		for k := range users {
			var mine []string
			for _, line := range got {
				if strings.HasPrefix(line, fmt.Sprintf("user%d:", k)) {
					mine = append(mine, line)
				}
			}
			for j, line := range mine {
				if want := fmt.Sprintf("user%d: line %d, word%d", k, j, k); line != want {
					t.Fatalf("node %d's history has user%d's lines out of order: %q", i, k, mine)
				}
			}
		}
		other := (i + 1) % len(users)
		found, err := s.Search("#go", fmt.Sprintf("word%d", other), 0)
		if err != nil {
			t.Fatal(err)
		}
		if found.Matches != each || len(found.Messages) == 0 || found.Messages[0].From != fmt.Sprintf("user%d", other) {
			t.Errorf("/search on node %d for a word said on node %d: %d matches, %+v", i, other, found.Matches, found.Messages)
		}
	}
	// The room's replay on a node holds the lines said on the others (Hub.Indexed).
	if err := users[0].Say("#go", "the last word"); err != nil {
		t.Fatal(err)
	}
	chattest.WaitFor(t, "node c indexes the last line", func() bool {
		return slices.Contains(history(t, users[2]), "user0: the last word")
	})
	late, lateGot := chattest.Enter(t, nodes[2].hub, "127.0.0.9", "late")
	if err := late.Join("#go"); err != nil {
		t.Fatal(err)
	}
	var replayed []string
	lateGot.Next(t, func(m *chat.Message) bool {
		if m.History {
			replayed = append(replayed, m.From+": "+m.Text)
		}
		return m.Kind == chat.KindNotice && strings.HasPrefix(m.Text, "end of history")
	})
	if len(replayed) == 0 || replayed[len(replayed)-1] != "user0: the last word" {
		t.Errorf("joining #go on node c replays %q, want the line said last, on node a, last", replayed)
	}
}

// gate holds the lines a node's history is given until it opens.
type gate struct {
	store *sqlite.Store
	open  chan struct{}
}

func (g *gate) Index(rec chat.Record, origin string, done func(chat.Record, error)) {
	<-g.open
	g.store.Index(rec, origin, done)
}

// A node that was down catches up when it comes back on the same history and name: what was
// said meanwhile is in its history afterwards, and while it is not, /history says that it is
// catching up.
func TestHistoryCatchesUp(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	path := filepath.Join(t.TempDir(), "c.db")
	a := startIndexed(t, c.URL(0), "a", filepath.Join(t.TempDir(), "a.db"), nil)
	b := startIndexed(t, c.URL(1), "b", filepath.Join(t.TempDir(), "b.db"), nil)
	nc := startIndexed(t, c.URL(2), "c", path, nil)
	alice, _ := chattest.Enter(t, a.hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, b.hub, "127.0.0.3", "bob")
	carol, _ := chattest.Enter(t, nc.hub, "127.0.0.4", "carol")
	for _, s := range []*chat.Session{alice, bob, carol} {
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Say("#go", "before"); err != nil {
		t.Fatal(err)
	}
	chattest.WaitFor(t, "node c indexes the first line", func() bool { return slices.Equal(history(t, carol), []string{"alice: before"}) })
	carol.Close()
	nc.stop()

	// Node c is down while alice talks; bob, on node b, sees every line.
	const missed = 150
	want := []string{"alice: before"}
	for i := range missed {
		if err := alice.Say("#go", fmt.Sprint("meanwhile ", i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint("alice: meanwhile ", i))
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Text == fmt.Sprint("meanwhile ", missed-1) })

	// Back, with its history held until the test lets it go on.
	g := &gate{open: make(chan struct{})}
	opened := sync.OnceFunc(func() { close(g.open) })
	nc = startIndexed(t, c.URL(2), "c", path, func(s *sqlite.Store) natsbus.Indexer { g.store = s; return g })
	t.Cleanup(opened) // runs before the node stops, which waits for the line the gate holds
	if lag := nc.cluster.IndexLag(); lag == 0 {
		t.Fatal("node c, back after lines were said without it, says its history is not behind")
	}
	carol, carolGot := chattest.Enter(t, nc.hub, "127.0.0.4", "carol")
	if err := carol.Join("#go"); err != nil {
		t.Fatal(err)
	}
	if err := carol.Handle([]byte("/history")); err != nil {
		t.Fatal(err)
	}
	carolGot.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindNotice && strings.Contains(m.Text, "catching up")
	})
	if got := history(t, carol); !slices.Equal(got, want[:1]) {
		t.Errorf("node c's history while behind: %q, want only what it had", got)
	}

	opened()
	chattest.WaitFor(t, "node c catches up", func() bool { return slices.Equal(history(t, carol), want) })
	chattest.WaitFor(t, "node c says it is not behind", func() bool { return nc.cluster.IndexLag() == 0 })
	carolGot.Take()
	if err := carol.Handle([]byte("/history 1")); err != nil {
		t.Fatal(err)
	}
	var said []*chat.Message
	carolGot.Next(t, func(m *chat.Message) bool {
		said = append(said, m)
		return m.Kind == chat.KindNotice && (strings.HasPrefix(m.Text, "end of history") || m.Text == "no earlier history")
	})
	for _, m := range said {
		if strings.Contains(m.Text, "catching up") {
			t.Errorf("caught up, /history still says %q", m.Text)
		}
	}
}

// Every event read again (a node whose acknowledgements were lost reads the stream from its
// start) is kept once.
func TestHistoryIndexesEachEventOnce(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	path := filepath.Join(t.TempDir(), "b.db")
	a := startIndexed(t, c.URL(0), "a", filepath.Join(t.TempDir(), "a.db"), nil)
	b := startIndexed(t, c.URL(1), "b", path, nil)
	alice, _ := chattest.Enter(t, a.hub, "127.0.0.2", "alice")
	bob, _ := chattest.Enter(t, b.hub, "127.0.0.3", "bob")
	for _, s := range []*chat.Session{alice, bob} {
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 40 {
		if err := alice.Say("#go", fmt.Sprint("once ", i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint("alice: once ", i))
	}
	chattest.WaitFor(t, "node b indexes alice's lines", func() bool { return slices.Equal(history(t, bob), want) })
	if err := bob.Say("#go", "mine"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "bob: mine")
	chattest.WaitFor(t, "node b keeps bob's line", func() bool { return slices.Equal(history(t, bob), want) })
	bob.Close()
	b.stop()

	// As if none of b's acknowledgements had reached the stream: its consumer starts again at
	// the stream's first event.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(a.nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteConsumer(ctx, natsnode.EventsStream, natsbus.IndexConsumer("b")); err != nil {
		t.Fatal(err)
	}
	b = startIndexed(t, c.URL(1), "b", path, nil)
	if b.cluster.IndexLag() == 0 {
		t.Fatal("node b reads the stream again from its start, and says it has nothing to read")
	}
	chattest.WaitFor(t, "node b reads the stream again", func() bool { return b.cluster.IndexLag() == 0 })
	bob, _ = chattest.Enter(t, b.hub, "127.0.0.3", "bob")
	if err := bob.Join("#go"); err != nil {
		t.Fatal(err)
	}
	if got := history(t, bob); !slices.Equal(got, want) {
		t.Errorf("node b's history after reading every event again:\n%q\nwant each line once:\n%q", got, want)
	}

	// The consumer deleted under a running node: made again, it reads the stream again, and
	// what is said from then on too.
	if err := js.DeleteConsumer(ctx, natsnode.EventsStream, natsbus.IndexConsumer("b")); err != nil {
		t.Fatal(err)
	}
	if err := alice.Say("#go", "after"); err != nil {
		t.Fatal(err)
	}
	want = append(want, "alice: after")
	chattest.WaitFor(t, "node b indexes a line said after its consumer was deleted", func() bool {
		return slices.Equal(history(t, bob), want)
	})
}
