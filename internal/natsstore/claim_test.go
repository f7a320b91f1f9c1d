package natsstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

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

// TestClaimAfterForgetOnOneNode: a room's record is forgotten (its room emptied on this node)
// and claimed again at once, through the same store, behind a backlog of other rooms' changes:
// the claim finds no record, and its maker owns the room, with no topic, whatever the chat
// thinks of the old record (stale says it is good: on a node whose last member of a room quit a
// moment ago, the names may still show it in the room). Each round also passes the room on
// before forgetting it, the chat's Forget carrying the revision from before the Pass (which
// the chat does not wait for).
func TestClaimAfterForgetOnOneNode(t *testing.T) {
	c := natstest.StartCluster(t, 3)
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
	good := func(chat.RoomRecord) bool { return false }
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
