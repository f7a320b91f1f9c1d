package natsbus_test

import (
	"context"
	"errors"
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
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsbus"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
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
func startNodes(t *testing.T, c *natstest.Cluster, n int, ttl time.Duration, opts ...func(*chat.Config, jetstream.JetStream)) []*node {
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
		if err := natsnode.Provision(ctx, js, min(3, len(c.URLs())), 0); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNode(t, nc, js, name, ttl, opts...))
	}
	return nodes
}

// startNode starts a hub named name on a natsbus.Cluster on nc (provisioned already).
func startNode(t *testing.T, nc *nats.Conn, js jetstream.JetStream, name string, ttl time.Duration, opts ...func(*chat.Config, jetstream.JetStream)) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cl, err := natsbus.New(ctx, natsbus.Config{Conn: nc, Node: name, NameTTL: ttl, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "operators"
	cfg.NewBus, cfg.NewNames = cl.NewBus, cl.NewNames
	for _, opt := range opts {
		opt(&cfg, js)
	}
	nd := &node{hub: chat.NewHub(cfg, log), cluster: cl, nc: nc}
	t.Cleanup(func() {
		if !nd.closed {
			nd.cluster.Close()
		}
		nc.Close()
	})
	return nd
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
	for _, u := range users { // said last: what comes after it would be a line twice
		if err := u.s.Say("#go", "end"); err != nil {
			t.Fatal(err)
		}
	}
	var first []string
	for i, u := range users {
		// Each member's own lines are not sent back to it: the others' are, in the room's
		// order; so compare each member's view with the others' lines only.
		var seen []string
		for ends := 0; ends < len(users)-1; {
			m := u.got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindChat && m.Room == "#go" })
			if m.Text == "end" {
				ends++
				continue
			}
			seen = append(seen, m.From+": "+m.Text)
		}
		if len(seen) != each*(len(users)-1) {
			t.Fatalf("user%d saw %d lines before the ends, want %d: %q", i, len(seen), each*(len(users)-1), seen)
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
		var at *node // where the winner is
		for i, nd := range nodes {
			wg.Go(func() {
				s, _, ok := try(t, nd, fmt.Sprintf("127.0.0.%d", 10+i), names[i])
				if ok {
					mu.Lock()
					won, at = append(won, s), nd
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
		// Freed at once on its own node; on the others once the release reached the bucket.
		other := nodes[(slices.Index(nodes, at)+1)%len(nodes)]
		for _, nd := range []*node{at, other} {
			deadline := time.Now().Add(chattest.Timeout)
			for {
				s, got, ok := try(t, nd, "127.0.0.20", names[0])
				if ok {
					s.Close()
					break
				}
				if nd == at || time.Now().After(deadline) {
					var said []string
					for _, m := range got.Take() {
						said = append(said, m.Text)
					}
					t.Fatalf("round %d: %s not free on node %d once its holder left: %q", round, names[0], slices.Index(nodes, nd), said)
				}
			}
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

// What one member does to another on another node: private messages both ways (and /reply),
// /who and /whois that see the whole cluster, a kick, a mute and a ban carried out by the
// member's own node.
func TestMembersAcrossNodes(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, 0)
	alice, aliceGot := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	for _, s := range []*chat.Session{alice, bob} {
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
	}
	// Presence travels through the names bucket: wait until each node sees the other's member.
	waitFor := func(what string, ok func() bool) { t.Helper(); chattest.WaitFor(t, what, ok) }
	inGo := func(s *chat.Session, name string) func() bool {
		return func() bool {
			who, err := s.Who("#go")
			return err == nil && slices.ContainsFunc(who.Members, func(m chat.MemberInfo) bool { return m.Name == name })
		}
	}
	waitFor("alice sees bob in #go", inGo(alice, "bob"))
	waitFor("bob sees alice in #go", inGo(bob, "alice"))

	if f, err := alice.Whois("bob"); err != nil || f.Name != "bob" || !slices.Contains(f.Rooms, "#go") {
		t.Errorf("alice's /whois bob: %+v, %v", f, err)
	}
	rooms := alice.Rooms()
	if i := slices.IndexFunc(rooms, func(r chat.RoomInfo) bool { return r.Name == "#go" }); i < 0 || rooms[i].Members != 2 {
		t.Errorf("alice's /rooms: %+v, want #go with 2", rooms)
	}
	// One room looked up alone (IRC's LIST #chan) counts the members of both nodes, and finds a
	// room only the other node has members in.
	if got, ok := alice.RoomInfo("#go"); !ok || got.Members != 2 {
		t.Errorf("alice's RoomInfo(#go): %+v, %v, want 2 members", got, ok)
	}
	if err := bob.Join("#bobs"); err != nil {
		t.Fatal(err)
	}
	waitFor("alice finds #bobs on node b", func() bool {
		got, ok := alice.RoomInfo("#bobs")
		return ok && got == chat.RoomInfo{Name: "#bobs", Members: 1}
	})

	// A private message across nodes, and the reply.
	if err := alice.Private("bob", "psst"); err != nil {
		t.Fatal(err)
	}
	pm := bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindPrivate })
	if pm.From != "alice" || pm.Text != "psst" || pm.Sent {
		t.Errorf("bob got %+v", pm)
	}
	if err := bob.Handle([]byte("/reply hi back")); err != nil {
		t.Fatal(err)
	}
	back := aliceGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindPrivate && !m.Sent })
	if back.From != "bob" || back.Text != "hi back" {
		t.Errorf("alice got %+v", back)
	}

	// A topic set on node a is kept by node b too, for whoever asks or joins there.
	if err := alice.Topic("#go", "release day"); err != nil {
		t.Fatal(err)
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindTopic && m.Text == "release day" })
	waitFor("node b keeps #go's topic", func() bool {
		topic, err := bob.RoomTopic("#go")
		return err == nil && topic == "release day"
	})

	// Moderation: alice becomes an operator and mutes bob, on the other node.
	if err := alice.Oper("operators"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Mute("bob", time.Minute); err != nil {
		t.Fatal(err)
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindNotice && strings.Contains(m.Text, "muted you") })
	if err := bob.Say("#go", "can I?"); err == nil {
		t.Error("bob, muted from another node, could talk")
	}
	if err := alice.Unmute("bob"); err != nil {
		t.Fatal(err)
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindNotice && m.Text == "you may talk again" })

	// A kick out of #go by an operator, on the other node.
	if err := alice.Kick("#go", "bob", "enough"); err != nil {
		t.Fatal(err)
	}
	kick := aliceGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindKick })
	if kick.From != "bob" || kick.To != "alice" || kick.Text != "enough" {
		t.Errorf("the kick alice saw: %+v", kick)
	}
	bobGot.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindKicked && m.Room == "#go" && m.From == "alice" && m.Text == "enough"
	})

	// A ban of bob's name: his node disconnects him.
	if err := alice.Ban("bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	waitFor("bob dropped", func() bool { return bobGot.Dropped() == chat.DropBanned })
	if _, _, ok := try(t, nodes[1], "127.0.0.4", "bob"); ok {
		t.Error("bob, banned, entered again on his node")
	}
}

// A NATS server shut down under a node: the node's connection moves to another server, its
// consumers start again where they were, and its users go on talking after a pause, losing
// nothing and keeping their names. Lines said during the move may be kept in another order
// than they were typed (an event JetStream did not acknowledge is published again), but
// everyone sees them in the one order the stream kept.
func TestNATSServerLostUnderANode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nodes := startNodes(t, c, 3, 0) // node a on server 0, b on 1, c on 2
	alice, aliceGot := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	_, carolGot := chattest.Enter(t, nodes[2].hub, "127.0.0.4", "carol")
	aliceGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindJoin && m.From == "carol" })
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindJoin && m.From == "carol" })
	c.Stop(0)
	const n = 20
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprint("from a ", i)
		if err := alice.Say("", want[i]); err != nil {
			t.Fatal(err)
		}
	}
	heard := func(got *chattest.Recorder) []string {
		var out []string
		for len(out) < n {
			m := got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindChat && m.From == "alice" })
			out = append(out, m.Text)
		}
		return out
	}
	bobHeard, carolHeard := heard(bobGot), heard(carolGot)
	if !slices.Equal(bobHeard, carolHeard) {
		t.Errorf("bob and carol heard alice in different orders:\n%q\n%q", bobHeard, carolHeard)
	}
	if sorted := slices.Sorted(slices.Values(bobHeard)); !slices.Equal(sorted, slices.Sorted(slices.Values(want))) {
		t.Errorf("bob heard %q, want each of %q once", bobHeard, want)
	}
	if err := bob.Say("", "from b"); err != nil {
		t.Fatal(err)
	}
	if m := aliceGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindChat }); m.Text != "from b" {
		t.Errorf("alice got %+v", m)
	}
	if nodes[0].nc.ConnectedUrl() == c.URL(0) {
		t.Errorf("node a is still on the server that stopped")
	}
	if aliceGot.Dropped() != "" {
		t.Errorf("alice was dropped: %s", aliceGot.Dropped())
	}
	if f := nodes[0].cluster.PublishFailures(); f != 0 {
		t.Errorf("%d events were not kept", f)
	}
}

// An account's devices are on one node: logging in to it through another node says where it
// is, rather than that its own name is taken.
func TestAccountOnTwoNodes(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nodes := startNodes(t, c, 2, 0, func(cfg *chat.Config, js jetstream.JetStream) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := natsstore.New(ctx, js, natsstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		cfg.Accounts = st
	})
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	for _, line := range []string{"/register", "a good password", "a good password"} {
		if err := alice.Handle([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	s, got, ok := try(t, nodes[1], "127.0.0.3", "alice")
	if ok {
		t.Fatal("alice entered before her password")
	}
	if err := s.Handle([]byte("a good password")); err != nil {
		t.Fatal(err)
	}
	got.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindNotice && strings.HasPrefix(m.Text, "alice is connected through another server of this chat")
	})
	if s.Registered() {
		t.Error("alice entered on a second node")
	}
}

// A room that has members on another node is theirs: whoever joins it on a second node does
// not own it, and cannot kick its owner or set its topic.
func TestRoomOfAnotherNodeIsNotOwned(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, 0)
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	if err := alice.Join("#fort"); err != nil {
		t.Fatal(err)
	}
	chattest.WaitFor(t, "node b sees alice in #fort", func() bool {
		who, err := bob.Who("#fort")
		return err == nil && len(who.Members) == 1
	})
	bobGot.Take()
	if err := bob.Handle([]byte("/join fort")); err != nil {
		t.Fatal(err)
	}
	bobGot.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindNotice && strings.HasPrefix(m.Text, "you joined #fort")
	})
	if err := bob.Kick("#fort", "alice", "mine"); err == nil || err.(*chat.Error).Code != chat.CodeNotAllowed {
		t.Errorf("bob, on another node, kicked the room's owner: %v", err)
	}
	if err := bob.Topic("#fort", "owned"); err == nil {
		t.Error("bob, on another node, set the topic of a room he does not own")
	}
}

// Making a room is waiting on JetStream (a consumer for its events): without NATS, the join
// says so and fails, rather than making a room whose events this node would never receive.
// (The wait is made with no lock of the hub's held, so it holds up nobody else on the node;
// a test cannot tell a wait that has not begun from one that does not block.)
func TestRoomMadeWithoutNATS(t *testing.T) {
	c := natstest.StartOne(t)
	nodes := startNodes(t, c, 1, 0)
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	c.Stop(0)
	var e *chat.Error
	if err := alice.Join("#new"); !errors.As(err, &e) || e.Code != chat.CodeUnavailable {
		t.Errorf("alice's join of a new room without NATS: %v, want it refused as unavailable", err)
	}
}

// A node whose NATS cluster lost its majority keeps trying to make its consumers again;
// closing it then returns. (Found in a node's goroutine dump after a 10,000-user bench: nats.go
// calls the bus's error callback holding the ordered consumer's lock, and the bus stopped a
// consumer holding its own lock, which the callback took: the two waited on each other for
// ever, the node's bus was stuck, and a node told to stop never did. This test takes the same
// paths; it does not make the two meet at the same instant every run.)
func TestCloseWithoutQuorum(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	nodes := startNodes(t, c, 1, 0) // on server 0
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	for i := range 9 { // ten consumers (the lobby's and nine rooms'), and the node's own
		if err := alice.Join(fmt.Sprint("#r", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Stop(1)
	c.Stop(2)
	chattest.WaitWithin(t, 2*time.Minute, "a consumer made again", func() bool {
		return nodes[0].cluster.ConsumerRenewals() >= 1
	})
	closed := make(chan struct{})
	go func() {
		nodes[0].cluster.Close()
		close(closed)
	}()
	select {
	case <-closed:
		nodes[0].closed = true
	case <-time.After(time.Minute):
		t.Fatal("the cluster did not close within a minute without a NATS majority")
	}
}

// /who of a room follows its members on other nodes as they move: who leaves a room is no
// longer listed in it, who joins one is, under a new name too, whatever case the room is
// written in, and a member gone with its node is listed nowhere.
func TestWhoFollowsMembersOfOtherNodes(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, 2*time.Second)
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	bob, _ := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	if err := bob.Join("#go"); err != nil {
		t.Fatal(err)
	}
	names := func(room string) func() []string {
		return func() []string {
			who, err := bob.Who(room)
			if err != nil {
				return []string{err.Error()}
			}
			var out []string
			for _, m := range who.Members {
				out = append(out, m.Name)
			}
			slices.Sort(out)
			return out
		}
	}
	steps := []struct {
		what string
		do   func() error
		room string
		want []string
	}{
		{"alice joins #go", func() error { return alice.Join("#go") }, "#go", []string{"alice", "bob"}},
		{"alice joins #Rust", func() error { return alice.Join("#Rust") }, "#rust", []string{"alice"}},
		{"alice leaves #go", func() error { return alice.Part("#go", "") }, "#go", []string{"bob"}},
		{"alice is alicia", func() error { return alice.Nick("alicia") }, "#RUST", []string{"alicia"}},
		{"alicia's node dies", func() error { nodes[0].nc.Close(); return nil }, "#rust", []string{"there is no room #rust"}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		got := names(st.room)
		chattest.WaitFor(t, fmt.Sprintf("after %s, bob's /who %s to be %q", st.what, st.room, st.want), func() bool {
			g := got()
			return slices.Equal(g, st.want) || (len(g) == 1 && len(st.want) == 1 && strings.Contains(g[0], st.want[0]))
		})
	}
}

// Many members of one node joining a room new to it at once make one consumer of its events
// between them, not one each (under a join storm the extra ones timed the JetStream API out).
func TestJoinersOfANewRoomShareOneConsumer(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), natstest.Timeout)
	defer cancel()
	js, err := jetstream.New(nodes[0].nc)
	if err != nil {
		t.Fatal(err)
	}
	consumers := func() int {
		t.Helper()
		stream, err := js.Stream(ctx, natsnode.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		return stream.CachedInfo().State.Consumers
	}
	const joiners = 20
	var sessions []*chat.Session
	for i := range joiners {
		s, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", fmt.Sprintf("joiner%c", 'a'+i))
		sessions = append(sessions, s)
	}
	before := consumers()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() {
			if err := s.Join("#storm"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if made := consumers() - before; made != 1 {
		t.Errorf("%d joiners of a new room made %d consumers of its events, want 1", joiners, made)
	}
}
