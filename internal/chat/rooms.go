package chat

import (
	"context"
	"slices"
	"sync/atomic"
	"time"
)

// Rooms keeps, for every node of a cluster, what a room is beyond its members: its owner and
// its topic. A single node has none (Config.NewRooms nil): its rooms live in its memory only,
// and everything here is skipped. In a cluster the record is the truth: the first node to make
// it names the owner (one winner cluster-wide), a node whose first member joins a room reads
// it, and every node hears of changes (the function NewRooms is given), so that owner and topic
// are the same on every node.
//
// A record outlives its room when the room empties everywhere: the node whose last member
// leaves deletes it when it sees nobody in the room elsewhere, and a record left behind (a race,
// a node that died) is stale, and taken over by the next creator (see roomStale), as a room made
// again on one node is its maker's, with no topic.
type Rooms interface {
	// Claim makes rec the record of the room key unless one exists that stale says is still
	// good, and returns the record in force: rec when it won. It waits for the cluster, so it is
	// never called under Hub.mu. The changes of the key queued before it (Pass, Forget) are
	// written before it reads the record; while stale is asked, Lookup returns the record read,
	// or a newer revision (or its deletion) heard of since, so that stale may wait for it to
	// change. stale's context ends when the node stops: stale returns then, and Claim fails.
	Claim(key string, rec RoomRecord, stale func(context.Context, RoomRecord) bool) (RoomRecord, error)
	// SetTopic writes the topic into the room's record (made with rec's owner if there is none),
	// keeping its owner. It waits for the cluster: not under Hub.mu.
	SetTopic(key string, rec RoomRecord) error
	// Pass makes to (0: nobody) the room's owner if the record still names from; Forget deletes
	// the record if its revision is still rev. Neither blocks: the change is queued.
	Pass(key string, from uint64, to uint64, toName string)
	Forget(key string, rev uint64)
	// Remake queues writing rec as the room's record if it has none: a node whose members are
	// in a room whose record another node deleted (it saw nobody there) makes it again.
	Remake(key string, rec RoomRecord)
	// Lookup returns the newest record this node has heard of, from memory: under Hub.mu.
	Lookup(key string) (RoomRecord, bool)
}

// RoomRecord is what Rooms keeps of a room.
type RoomRecord struct {
	Name      string // the room's name as shown
	Owner     uint64 // the owner's member number, on whichever node; 0: nobody owns it
	OwnerName string
	Topic     string
	Rev       uint64    // the record's revision, set by the store: a higher one is newer
	Time      time.Time // when it was written, set by the store
}

// MuteList keeps the mutes of accounts for every node and across restarts: a cluster's node
// started after a mute knows it. Nil on a single node, whose mutes last until it stops.
type MuteList interface {
	// SaveMute and DeleteMute queue a change, never blocking (they are called under Hub.mu).
	SaveMute(account string, until time.Time)
	DeleteMute(account string)
	// Mutes returns the mutes in force, by account name.
	Mutes(ctx context.Context) (map[string]time.Time, error)
}

// recordGrace is how long a room's record counts as good whatever the presence says: the
// members of a room just made may not show in the names' presence yet.
const recordGrace = 10 * time.Second

// roomChanged is what Rooms calls when a room's record changed: applied under Hub.mu.
func (h *Hub) roomChanged(key string) {
	h.order(&Order{Kind: orderRoomSeen, Room: key})
}

// claimRoom asks the cluster who owns the room called n, which m is about to make on this node:
// m when no one else does. Called with no lock held.
// Members of this node making one room at once share one claim: the first one's, which the
// others wait for (a hundred joiners of one room would otherwise each write its record, and
// under a join storm the writes outran the bucket).
// by is the member whose claim it was.
func (h *Hub) claimRoom(n Name, m *member) (rec RoomRecord, by uint64, err error) {
	key := n.looks[0]
	c := &roomClaim{done: make(chan struct{}), by: m.id}
	if v, loaded := h.claiming.LoadOrStore(key, c); loaded {
		first := v.(*roomClaim)
		first.waiting.Add(1)
		<-first.done // Claim's own requests have deadlines
		return first.rec, first.by, first.err
	}
	defer func() {
		h.claiming.Delete(key)
		close(c.done)
	}()
	h.making.Store(makingRoom{key, m.id}, struct{}{})
	want := RoomRecord{Name: n.Display, Owner: m.id, OwnerName: m.name().Display}
	c.rec, c.err = h.records.Claim(key, want, func(ctx context.Context, rec RoomRecord) bool { return h.roomStale(ctx, n, rec, m.id) })
	return c.rec, c.by, c.err
}

// roomClaim is a claim of a room's record in flight on this node.
type roomClaim struct {
	done    chan struct{} // closed when rec and err are set
	by      uint64        // the member claiming
	rec     RoomRecord
	err     error
	waiting atomic.Int32 // joiners waiting for it (tests watch it)
}

// makingRoom is a member of this node claiming the record of the room key.
type makingRoom struct {
	key    string
	member uint64
}

// madeRoom ends m's claim on the room called n, made or not: called under Hub.mu once the join
// that claimed it has made the room or given up.
func (h *Hub) madeRoom(n Name, m *member) { h.making.Delete(makingRoom{n.looks[0], m.id}) }

// roomStale reports whether rec is what is left of a room that emptied: nobody is in it on
// another node, and its owner is gone, or is this node's (so out of the room, being made
// here), or the record is older than recordGrace (an owner on another node out of the room
// would have passed it on leaving; a younger record's owner may not show in the room yet).
// Called with no lock held: it reads only Names and what is atomic. It may wait (settleRecord)
// until ctx ends.
func (h *Hub) roomStale(ctx context.Context, n Name, rec RoomRecord, claimer uint64) bool {
	if len(h.elsewhereIn(n, false)) > 0 {
		return false
	}
	if rec.Owner == 0 {
		return true
	}
	if rec.Owner == claimer {
		return true // what the claimer's last time in the room left, since it is not in it
	}
	if owner := h.liveMember(rec.Owner); owner != nil {
		// Another member of this node, so out of the room, which is being made here: unless
		// that member made it meanwhile (this claim's join found no room before it did), or is
		// making it now, its claim having come just before this one.
		if r := h.liveRoom(n.looks[0]); r != nil && slices.Contains(r.list(), owner) {
			return false
		}
		_, making := h.making.Load(makingRoom{n.looks[0], rec.Owner})
		return !making
	}
	if !h.ownerOnline(rec) || h.now().Sub(rec.Time) > recordGrace {
		return true
	}
	return h.settleRecord(ctx, n, rec)
}

// ownerOnline reports whether the names show rec's owner online. It asks about the owner's
// name (settleRecord asks again and again, and Online would list the whole cluster each
// time); only when the name is not the owner's (it went, or the owner renamed since the record
// was written) does it look through everyone online.
func (h *Hub) ownerOnline(rec RoomRecord) bool {
	if n, err := ParseName(rec.OwnerName); err == nil {
		if p, ok := h.claims.Lookup(n); ok && p.Member == rec.Owner {
			return true
		}
	}
	return slices.ContainsFunc(h.claims.Online(), func(p Presence) bool { return p.Member == rec.Owner })
}

// settlePoll is how often settleRecord looks again: presence has no callback to wait on.
const settlePoll = 20 * time.Millisecond

// settleRecord decides about a young record whose owner is online on another node while
// nobody shows in the room: either the room was made a moment ago (its members' presence has
// not come yet) or it emptied a moment ago (its last node's deletion of the record has not come
// yet). It waits for whichever comes: someone shows in the room (the record is good), or the
// record changes or is deleted (stale: the claim's write then meets the new revision and reads
// again), or the owner goes offline, or the record ages past recordGrace (stale); or the node
// stops (ctx ends: the claim fails whatever this says).
// Lookup returns the record the claim read, or newer (Rooms.Claim).
func (h *Hub) settleRecord(ctx context.Context, n Name, rec RoomRecord) bool {
	key := n.looks[0]
	giveUp := time.NewTimer(recordGrace)
	defer giveUp.Stop()
	poll := time.NewTicker(settlePoll)
	defer poll.Stop()
	for {
		select {
		case <-giveUp.C:
			return true
		case <-ctx.Done():
			return false
		case <-poll.C:
		}
		if len(h.elsewhereIn(n, false)) > 0 {
			return false
		}
		if now, ok := h.records.Lookup(key); !ok || now.Rev > rec.Rev {
			return true
		}
		if !h.ownerOnline(rec) || h.now().Sub(rec.Time) > recordGrace {
			return true
		}
	}
}

// recordGoneLocked is what a node whose members are in r does when r's record was deleted by
// a node that saw nobody else in it: it keeps the room's owner if it is here, else gives the
// room to its member there longest, and makes the record again.
func (h *Hub) recordGoneLocked(r *Room) {
	members := r.list()
	if r == h.lobby || len(members) == 0 {
		return
	}
	if r.owner == nil {
		r.owner, r.ownerID = members[0], members[0].id
		h.tellMember(r.owner, "you now own "+r.name.Display)
		h.tellOwnerLocked(r, r.owner.name().Display)
	}
	h.records.Remake(r.key(), RoomRecord{Name: r.name.Display, Owner: r.ownerID, OwnerName: r.owner.name().Display, Topic: r.topic})
}

// adoptRecordLocked makes r what rec says, when rec is newer than what r has: its topic, and
// its owner, who is told when it is one of this node's members and did not own r before.
func (h *Hub) adoptRecordLocked(r *Room, rec RoomRecord) {
	if rec.Rev <= r.rev {
		return
	}
	r.rev = rec.Rev
	r.topic = rec.Topic
	if r == h.lobby {
		return // nobody owns the lobby
	}
	before := r.ownerID
	r.ownerID, r.owner = rec.Owner, nil
	if m := h.liveMember(rec.Owner); m != nil && !m.left && slices.Contains(m.rooms, r) {
		r.owner = m
		if before != rec.Owner {
			h.tellMember(m, "you now own "+r.name.Display)
		}
	}
	if before != 0 && before != rec.Owner && rec.Owner != 0 && rec.OwnerName != "" {
		h.tellOwnerLocked(r, rec.OwnerName) // the room passed on another node, or here
	}
}

// tellOwnerLocked tells r's members on this node that name owns r now (KindOwner): each node
// tells its own, when the room's record says the owner changed, or when it passed the room.
func (h *Hub) tellOwnerLocked(r *Room, name string) {
	msg := &Message{Kind: KindOwner, Room: r.name.Display, From: name}
	for _, m := range r.list() {
		m.deliver(msg)
	}
}

// passRoomLocked is roomLeftLocked on a cluster: the room's record says who owns it. When the
// owner leaves, the room passes to the member of this node there longest, else to one of the
// members elsewhere (the one online longest); a room that empties everywhere loses its record.
func (h *Hub) passRoomLocked(r *Room, left *member) {
	members := r.list()
	key := r.key()
	if len(members) == 0 && r != h.lobby { // the lobby stays, empty or not
		h.removeRoomLocked(r)
		if p := h.loading[key]; p != nil {
			p.late = append(p.late, r.recent...)
		}
	}
	if r == h.lobby {
		return
	}
	var elsewhere []Presence
	if len(members) == 0 { // only then does it matter who is in the room on other nodes
		// Names may still list the leaver (a quit frees its name in the background): it is
		// out of the membership already, so it would count as a member elsewhere.
		elsewhere = slices.DeleteFunc(h.elsewhereIn(r.name, false), func(p Presence) bool { return p.Member == left.id })
		if len(elsewhere) == 0 {
			h.records.Forget(key, r.rev)
			return
		}
	}
	if r.ownerID != left.id {
		return
	}
	r.owner, r.ownerID = nil, 0
	var name string
	if len(members) > 0 {
		r.owner, r.ownerID, name = members[0], members[0].id, members[0].name().Display
		h.tellMember(r.owner, "you now own "+r.name.Display)
		h.tellOwnerLocked(r, name)
	} else {
		first := slices.MinFunc(elsewhere, func(a, b Presence) int { return a.Since.Compare(b.Since) })
		r.ownerID, name = first.Member, first.Name // its node tells it, once the record says so
	}
	h.records.Pass(key, left.id, r.ownerID, name)
}

// setOwnerLocked makes m own r when the record says it does (it made the room here, or another
// of this node's members made it for it meanwhile).
func (r *Room) setOwnerLocked(m *member) {
	if r.ownerID == m.id {
		r.owner = m
	}
}

// ownerLostLocked passes the rooms that o.Member, of a node that died, owned to this node's
// member there longest. Every node with members in such a room tries; the record names whoever
// was first (Pass changes it only while it still names the owner), and each node's members hear
// who that is through the record, as when an owner leaves (adoptRecordLocked).
//
// A large room did not hear the quit of a member of a dead node (deliver cannot tell, with no
// lock, whether it owned the room): o.By and o.Reason, when set, are told now in those it owned.
func (h *Hub) ownerLostLocked(o *Order) {
	owner := o.Member
	told := make(map[*member]bool)
	for _, key := range o.Rooms {
		r := h.liveRoom(key)
		if r == nil || r == h.lobby || r.ownerID != owner {
			continue
		}
		members := r.list()
		if o.By != "" && r.large.Load() {
			msg := &Message{Kind: KindQuit, Room: r.name.Display, From: o.By, Text: o.Reason}
			for _, m := range members {
				if !told[m] {
					told[m] = true
					m.deliver(msg)
				}
			}
		}
		if h.records != nil && len(members) > 0 {
			h.records.Pass(key, owner, members[0].id, members[0].name().Display)
		}
	}
}
