package chat_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// heldRooms is a cluster's Rooms whose claims are held in flight until released: the one
// thing a NATS bucket cannot be made to do on cue, which is how long a claim takes.
type heldRooms struct {
	release chan struct{}
	mu      sync.Mutex
	recs    map[string]chat.RoomRecord
}

func (r *heldRooms) Claim(key string, want chat.RoomRecord, _ func(context.Context, chat.RoomRecord) bool) (chat.RoomRecord, error) {
	<-r.release
	r.mu.Lock()
	defer r.mu.Unlock()
	want.Rev = uint64(len(r.recs) + 1)
	r.recs[key] = want
	return want, nil
}
func (r *heldRooms) SetTopic(string, chat.RoomRecord) error { return nil }
func (r *heldRooms) Pass(key string, from, to uint64, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.recs[key]; ok && rec.Owner == from {
		rec.Owner, rec.OwnerName = to, name
		rec.Rev++
		r.recs[key] = rec
	}
}
func (r *heldRooms) Forget(string, uint64)          {}
func (r *heldRooms) Remake(string, chat.RoomRecord) {}
func (r *heldRooms) Lookup(key string) (chat.RoomRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[key]
	return rec, ok
}

// Joiners of a room new to a node share the first one's claim of its record; when that first
// joiner leaves before the claim comes back, the room is made by the next one, who owns it
// (it was made owned by a member not in it, whom nobody could pass it from; found in review).
func TestRoomOfAJoinerGoneMidClaim(t *testing.T) {
	rooms := &heldRooms{release: make(chan struct{}), recs: map[string]chat.RoomRecord{}}
	cfg := chat.DefaultConfig()
	cfg.NewRooms = func(func(string)) chat.Rooms { return rooms }
	hub := chat.NewHub(cfg, slog.New(slog.DiscardHandler))
	alice, _ := chattest.Enter(t, hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	var wg sync.WaitGroup
	wg.Go(func() { alice.Join("#new") })
	chattest.WaitFor(t, "alice's claim of #new to be in flight", func() bool { return chat.RoomClaimWaiters(hub, "#new") == 0 })
	wg.Go(func() { bob.Join("#new") })
	chattest.WaitFor(t, "bob to wait for alice's claim", func() bool { return chat.RoomClaimWaiters(hub, "#new") == 1 })
	alice.Close()
	close(rooms.release)
	wg.Wait()
	who, err := bob.Who("#new")
	if err != nil {
		t.Fatal(err)
	}
	if len(who.Members) != 1 || who.Members[0].Name != "bob" || !who.Members[0].Owner {
		t.Errorf("#new's members: %+v, want bob owning it", who.Members)
	}
	if err := bob.Topic("#new", "mine"); err != nil {
		t.Errorf("bob, alone in #new, cannot set its topic: %v", err)
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindTopic })
}
