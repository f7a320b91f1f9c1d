package natsstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
	"hubbub/internal/natstest"
)

// Each test below empties a room and makes it again at once, claimRounds times. Before the room empties, a member of
// backlogRooms other rooms quits, so that its node has that many changes of records queued
// ahead of the room's deletion, as a busy node has.
const (
	claimRounds  = 4
	backlogRooms = 30
)

// startBusyHub is startHub for a node whose members may be in more than backlogRooms rooms.
func startBusyHub(t *testing.T, c *natstest.Cluster, i int, name string) *chat.Hub {
	t.Helper()
	hub, _, _ := startHubTTL(t, c, i, name, 0, func(cfg *chat.Config) { cfg.MaxRoomsPerUser = backlogRooms + 5 })
	return hub
}

// backlog has a member called name make backlogRooms rooms on hub and returns what makes it
// quit: its node then queues the deletion of each of their records.
func backlog(t *testing.T, hub *chat.Hub, name string) (quit func()) {
	t.Helper()
	s, _ := chattest.Enter(t, hub, "127.0.0.5", name)
	for i := range backlogRooms {
		if err := s.Join(fmt.Sprintf("#%s-%d", name, i)); err != nil {
			t.Fatal(err)
		}
	}
	return s.Close
}

// join has each of joiners join the room of the same index, all at once.
func join(t *testing.T, joiners []*chat.Session, rooms []string) {
	t.Helper()
	var wg sync.WaitGroup
	for i, s := range joiners {
		wg.Go(func() {
			if err := s.Handle([]byte("/join " + rooms[i])); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// madeAgain checks that bob, who has just joined room, which nobody was in, made it: it is
// his, with no topic; what is left of the room before it emptied (its owner, its topic) is
// gone. Bob leaves it again at the end.
func madeAgain(t *testing.T, bob *chat.Session, bobGot *chattest.Recorder, room string) {
	t.Helper()
	m := bobGot.Next(t, func(m *chat.Message) bool {
		return m.Kind == chat.KindNotice && strings.Contains(m.Text, room+" ")
	})
	if !strings.HasPrefix(m.Text, "you made "+room+" and own it") {
		t.Errorf("%s made again after it emptied: %s is told %q, not that it made it", room, bob.Name(), m.Text)
	}
	if topic, err := bob.RoomTopic(room); err != nil || topic != "" {
		t.Errorf("%s made again after it emptied has the old topic %q (%v)", room, topic, err)
	}
	if got := owners(bob, room); len(got) != 1 || got[0] != bob.Name() {
		t.Errorf("%s made again by %s: owners %q", room, bob.Name(), got)
	}
	if err := bob.Part(room, ""); err != nil {
		t.Fatal(err)
	}
	bobGot.Take()
}

// makeWithTopics has s make rooms, each with a topic.
func makeWithTopics(t *testing.T, s *chat.Session, got *chattest.Recorder, rooms []string) {
	t.Helper()
	for _, room := range rooms {
		if err := s.Handle([]byte("/join " + room)); err != nil {
			t.Fatal(err)
		}
		got.Next(t, func(m *chat.Message) bool { return strings.HasPrefix(m.Text, "you made "+room) })
		if err := s.Topic(room, "old business"); err != nil {
			t.Fatal(err)
		}
		got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindTopic && m.Text == "old business" })
	}
}

// emptying is a way for rooms on node a to empty: fill makes them (each with a topic) and
// whatever comes before the end, and returns how their last member leaves them.
type emptying struct {
	name string
	fill func(t *testing.T, a *chat.Hub, rooms []string, n int) (leave func())
}

// emptyings are the ways rooms empty that each test tries: their owner leaves, or they pass
// to carol, who leaves at once (each record's deletion queued behind its change of owner).
// part says whether the last member parts (else it quits).
func emptyings(part bool) []emptying {
	leave := func(t *testing.T, s *chat.Session, rooms []string) {
		if !part {
			s.Close()
			return
		}
		for _, room := range rooms {
			if err := s.Part(room, ""); err != nil {
				t.Error(err)
			}
		}
	}
	return []emptying{
		{"owner leaves", func(t *testing.T, a *chat.Hub, rooms []string, n int) func() {
			alice, aliceGot := chattest.Enter(t, a, "127.0.0.2", fmt.Sprintf("alice%d", n))
			makeWithTopics(t, alice, aliceGot, rooms)
			return func() { leave(t, alice, rooms) }
		}},
		{"rooms passed, then their last member leaves", func(t *testing.T, a *chat.Hub, rooms []string, n int) func() {
			alice, aliceGot := chattest.Enter(t, a, "127.0.0.2", fmt.Sprintf("alice%d", n))
			makeWithTopics(t, alice, aliceGot, rooms)
			carol, _ := chattest.Enter(t, a, "127.0.0.4", fmt.Sprintf("carol%d", n))
			for _, room := range rooms {
				if err := carol.Join(room); err != nil {
					t.Fatal(err)
				}
			}
			return func() {
				for _, room := range rooms {
					if err := alice.Part(room, ""); err != nil {
						t.Error(err)
					}
				}
				leave(t, carol, rooms)
			}
		}},
	}
}

// oneNodeRooms is how many rooms empty at once in each round on one node, each made again by
// its own joiner at once: the more claims race the record's deletion, the likelier one wins.
const oneNodeRooms = 3

// TestRoomEmptiedAndMadeAgainOnOneNode: the last member of rooms quits and, at once, members of
// the same node make them again: each is its maker's, with no topic. A record's deletion is
// queued when its room empties; a claim must not read the record from before it.
func TestRoomEmptiedAndMadeAgainOnOneNode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	a := startBusyHub(t, c, 0, "a")
	joiners := make([]*chat.Session, oneNodeRooms)
	got := make([]*chattest.Recorder, oneNodeRooms)
	for i := range joiners {
		joiners[i], got[i] = chattest.Enter(t, a, "127.0.0.3", fmt.Sprintf("bob%d", i))
	}
	for i, how := range emptyings(false) {
		t.Run(how.name, func(t *testing.T) {
			for round := range claimRounds {
				n := i*claimRounds + round
				rooms := make([]string, oneNodeRooms)
				for j := range rooms {
					rooms[j] = fmt.Sprintf("#one%d-%d", n, j)
				}
				busy := backlog(t, a, fmt.Sprintf("busy%d", n))
				leave := how.fill(t, a, rooms, n)
				busy()
				leave()
				join(t, joiners, rooms)
				for j, room := range rooms {
					madeAgain(t, joiners[j], got[j], room)
				}
				if t.Failed() {
					t.Fatalf("failed in round %d of %d", round+1, claimRounds)
				}
			}
		})
	}
}

// TestRoomEmptiedOnANodeMadeAgainOnAnother: the last member of a room parts on node a; once
// node b sees nobody in it, bob makes it again on node b: it is his, with no topic. Node a's
// deletion of the record is queued; bob's claim on node b must not take the record node a is
// about to delete.
func TestRoomEmptiedOnANodeMadeAgainOnAnother(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	a, b := startBusyHub(t, c, 0, "a"), startHub(t, c, 1, "b")
	bob, bobGot := chattest.Enter(t, b, "127.0.0.3", "bob")
	// inRoom is how many members node b sees in room.
	inRoom := func(room string) int {
		who, err := bob.Who(room)
		if err != nil {
			return 0
		}
		return len(who.Members)
	}
	for i, how := range emptyings(true) {
		t.Run(how.name, func(t *testing.T) {
			for round := range claimRounds {
				n := i*claimRounds + round
				room := fmt.Sprintf("#two%d", n)
				busy := backlog(t, a, fmt.Sprintf("busy%d", n))
				leave := how.fill(t, a, []string{room}, n)
				want := 1 + i // alice, and carol when the room passes to her
				chattest.WaitFor(t, fmt.Sprintf("node b sees %d in %s", want, room), func() bool { return inRoom(room) == want })
				busy()
				leave()
				chattest.WaitFor(t, "node b sees nobody in "+room, func() bool { return inRoom(room) == 0 })
				join(t, []*chat.Session{bob}, []string{room})
				madeAgain(t, bob, bobGot, room)
				if t.Failed() {
					t.Fatalf("failed in round %d of %d", round+1, claimRounds)
				}
			}
		})
	}
}

// openRoomStore opens a RoomStore through a connection of its own to c's first server, as a
// node of the cluster has; it is closed at the end of the test.
func openRoomStore(t *testing.T, c *natstest.Cluster) *natsstore.RoomStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), natstest.Timeout)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: []string{c.URL(0)}, Name: "a"}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := natsnode.Provision(ctx, js, 0, 0); err != nil {
		t.Fatal(err)
	}
	rs, err := natsstore.OpenRooms(ctx, js, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	return rs
}

// good is a claim's stale that finds every record good: the claim returns it.
func good(context.Context, chat.RoomRecord) bool { return false }

// claim is rs.Claim of room for owner (its name "member<owner>"), failing the test on an error.
func claim(t *testing.T, rs *natsstore.RoomStore, room string, owner uint64, stale func(context.Context, chat.RoomRecord) bool) chat.RoomRecord {
	t.Helper()
	rec, err := rs.Claim(room, chat.RoomRecord{Name: room, Owner: owner, OwnerName: fmt.Sprintf("member%d", owner)}, stale)
	if err != nil {
		t.Fatalf("claim of %s for %d: %v", room, owner, err)
	}
	return rec
}

// TestClaimAfterForgetOnOneNode: a room's record is forgotten (its room emptied on this node)
// and claimed again at once, through the same store, behind a backlog of other rooms' changes:
// the claim finds no record, and its maker owns the room, with no topic, whatever the chat
// thinks of the old record (stale says it is good: on a node whose last member of a room quit a
// moment ago, the names may still show it in the room). Each round also passes the room on
// before forgetting it, the chat's Forget carrying the revision from before the Pass (which
// the chat does not wait for).
func TestClaimAfterForgetOnOneNode(t *testing.T) {
	rs := openRoomStore(t, natstest.StartCluster(t, 3))
	const alice, carol, bob = 1, 2, 3
	for round := range claimRounds {
		for _, passed := range []bool{false, true} {
			room := fmt.Sprintf("#r%d-%v", round, passed)
			rec, err := rs.Claim(room, chat.RoomRecord{Name: room, Owner: alice, OwnerName: "alice"}, good)
			if err != nil {
				t.Fatal(err)
			}
			if err := rs.SetTopic(room, chat.RoomRecord{Name: room, Owner: alice, OwnerName: "alice", Topic: "old business"}); err != nil {
				t.Fatal(err)
			}
			// The chat's view of the record, with its topic: SetTopic notes what it wrote.
			if rec, _ = rs.Lookup(room); rec.Topic != "old business" {
				t.Fatalf("%s's record after its topic was set: %+v", room, rec)
			}
			for i := range backlogRooms {
				other := fmt.Sprintf("#busy%d-%v-%d", round, passed, i)
				r, err := rs.Claim(other, chat.RoomRecord{Name: other, Owner: alice, OwnerName: "alice"}, good)
				if err != nil {
					t.Fatal(err)
				}
				rs.Forget(other, r.Rev)
			}
			if passed {
				rs.Pass(room, alice, carol, "carol")
			}
			rs.Forget(room, rec.Rev)
			got, err := rs.Claim(room, chat.RoomRecord{Name: room, Owner: bob, OwnerName: "bob"}, good)
			if err != nil {
				t.Fatal(err)
			}
			if got.Owner != bob || got.Topic != "" {
				t.Fatalf("round %d (passed first: %v): %s made again after it was forgotten is owned by %q with topic %q; want bob's, no topic",
					round+1, passed, room, got.OwnerName, got.Topic)
			}
		}
	}
}

// TestForgetQueuedDuringAClaimKeepsItsRecord: M made #r (record r1) and Z's claim of #r (the
// same node: Z's join found no room, M's made it just after) is deciding whether r1 is stale
// when M parts: the chat queues Forget(r1), which waits for the claim. The claim finds r1 stale
// (its owner out of the room) and writes Z's record r2; the Forget, written after, must leave
// r2 alone: Z is in the room. Before, it took r2 for one of this node's own changes (the last
// revision it wrote) and deleted it, and another node's claim then made the room while Z was in
// it. (Found in review.)
func TestForgetQueuedDuringAClaimKeepsItsRecord(t *testing.T) {
	rs := openRoomStore(t, natstest.StartCluster(t, 3))
	const m, z, other = 1, 2, 3
	for round := range claimRounds {
		room := fmt.Sprintf("#r%d", round)
		r1 := claim(t, rs, room, m, good)
		r2 := claim(t, rs, room, z, func(_ context.Context, rec chat.RoomRecord) bool {
			if rec.Rev != r1.Rev {
				t.Errorf("%s: Z's claim read revision %d, not M's %d", room, rec.Rev, r1.Rev)
			}
			rs.Forget(room, r1.Rev) // M parted: #r emptied on this node, as the chat knew it
			return true
		})
		if r2.Owner != z {
			t.Fatalf("%s: Z's claim of a stale record returned %+v", room, r2)
		}
		// A claim writes what was queued for the key before it reads: the Forget first.
		if got := claim(t, rs, room, other, good); got.Owner != z || got.Rev != r2.Rev {
			t.Fatalf("round %d: the record Z's claim made (rev %d) was deleted by the Forget of M's (rev %d) queued during the claim: a later claim found owner %d rev %d",
				round+1, r2.Rev, r1.Rev, got.Owner, got.Rev)
		}
	}
}

// TestClaimOutlastingItsDeadlineTakesTheRecordOver: a claim's stale waits for a young record to
// settle (the chat waits until it is recordGrace old, the length of a request's deadline: its
// maker claimed it and never joined), then finds it stale: the claim writes its own record.
// Before, the write ran on the deadline the claim set before its read, long expired by then:
// the claim failed, and its joiner joined the stale record's room, owned by someone absent.
// (Found in review.) Requests are bounded by two seconds here, not ten, to keep the test short.
func TestClaimOutlastingItsDeadlineTakesTheRecordOver(t *testing.T) {
	rs := openRoomStore(t, natstest.StartCluster(t, 3))
	const timeout = 2 * time.Second
	natsstore.SetClaimTimeout(rs, timeout)
	const maker, joiner, other = 1, 2, 3
	claim(t, rs, "#young", maker, good)
	settle := func(ctx context.Context, rec chat.RoomRecord) bool {
		asked := time.Now()
		poll := time.NewTicker(20 * time.Millisecond)
		defer poll.Stop()
		for time.Since(asked) <= timeout+time.Second || time.Since(rec.Time) <= timeout+time.Second {
			select {
			case <-poll.C:
			case <-ctx.Done():
				return false
			}
		}
		return true // aged out, its owner never showed in the room
	}
	rec, err := rs.Claim("#young", chat.RoomRecord{Name: "#young", Owner: joiner, OwnerName: "joiner"}, settle)
	if err != nil {
		t.Fatalf("a claim that waited for a young record to age, then found it stale: %v", err)
	}
	if rec.Owner != joiner {
		t.Fatalf("the claim returned %+v, not the joiner's record", rec)
	}
	if got := claim(t, rs, "#young", other, good); got.Owner != joiner {
		t.Fatalf("the record after the claim: %+v, not the joiner's", got)
	}
}

// TestStopClaimsEndsAClaimWaitingToSettle: a node stopping (StopClaims, before it waits for its
// connections, one of which is joining a room) ends a claim waiting for a record to settle: its
// stale's context ends, and the claim fails without writing, whatever stale says then. A claim
// after that fails at once.
func TestStopClaimsEndsAClaimWaitingToSettle(t *testing.T) {
	rs := openRoomStore(t, natstest.StartCluster(t, 3))
	const maker, joiner = 1, 2
	claim(t, rs, "#young", maker, good)
	waiting := make(chan struct{})
	type result struct {
		rec chat.RoomRecord
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := rs.Claim("#young", chat.RoomRecord{Name: "#young", Owner: joiner, OwnerName: "joiner"}, func(ctx context.Context, _ chat.RoomRecord) bool {
			close(waiting)
			select {
			case <-ctx.Done():
			case <-time.After(natstest.Timeout):
				t.Error("stale's context did not end at StopClaims")
			}
			return true // not to be written: the node is stopping
		})
		done <- result{rec, err}
	}()
	<-waiting
	rs.StopClaims()
	var got result
	select {
	case got = <-done:
	case <-time.After(2 * natstest.Timeout):
		t.Fatal("the claim did not return after StopClaims")
	}
	if got.err == nil {
		t.Fatalf("a claim ended by StopClaims returned %+v and no error", got.rec)
	}
	if rec, ok := rs.Lookup("#young"); !ok || rec.Owner != maker {
		t.Errorf("after a claim ended by StopClaims the record is %+v (%v), not the maker's", rec, ok)
	}
	if _, err := rs.Claim("#later", chat.RoomRecord{Name: "#later", Owner: joiner}, good); err == nil {
		t.Error("a claim after StopClaims did not fail")
	}
}
