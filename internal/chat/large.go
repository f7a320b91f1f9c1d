package chat

import (
	"slices"
	"time"
)

// Large rooms, IRC's "auditorium": in a room of more than Config.AnnounceLimit members, the
// comings and goings of its ordinary members are not told to the room. Told to everyone, a
// storm of 10,000 joins is 50 million notices, and nobody reads a screen of them; what a
// member of a large room needs is who moderates it, how many are there, and to find someone
// by name. So:
//
//   - a join, a /part or a quit of an ordinary member is told to nobody but the member's own
//     other devices; the joiner is told, once on joining, that the room is large and what
//     is not shown;
//   - the owner's and operators' joins, leaves and quits are told as in any room, so that the
//     room knows who may moderate it (there are few of them, so they cost little);
//   - kicks and bans are told as in any room: they are moderation, which the room should see;
//   - /who, and the names a client is sent on entering the room (IRC's 353), list the
//     moderators first, then the asker, then the members there longest, at most
//     maxLargeListed, and say how many there are in all; /whois NAME finds anyone;
//   - whether a room is large is decided at each join or leave, from the count of that moment:
//     a room that shrinks to the limit announces again from its next join or leave, and
//     nobody is told that it changed (a room near the limit would flap).
//
// In a cluster the count is this node's view: its own members plus those its Names say
// other nodes hold there, counted again at most once a second (tallyEvery). Each node decides
// for the events it publishes, so two nodes may disagree for a second about a room near the
// limit; nothing worse comes of it than a join told or not told.

// DefaultAnnounceLimit is Config.AnnounceLimit by default.
const DefaultAnnounceLimit = 500

// maxLargeListed bounds the members /who and a names list show of a large room.
const maxLargeListed = 50

// tallyEvery is how long a count of other nodes' members per room is used before it is made
// again: a scan of everyone online, too dear for each join of a storm.
const tallyEvery = time.Second

// maxTallyNames bounds the tally's memory of room names already parsed.
const maxTallyNames = 10000

// roomTally counts, per room, the members other nodes hold there, as the Names tell.
type roomTally struct {
	at     time.Time         // when counts was made; a real clock's, not Config.Now's
	counts map[string]int    // room key → members other nodes hold in it
	keys   map[string]string // a room's name as a Presence lists it → the room's key
}

// largeLocked reports whether r has more members than the announce limit, as this node knows,
// and remembers it for deliver, which takes no lock (see Room.large).
func (h *Hub) largeLocked(r *Room) bool {
	limit := h.cfg.AnnounceLimit
	large := limit > 0 && (len(r.list()) > limit || h.presenceShared && h.sizeLocked(r) > limit)
	r.large.Store(large)
	return large
}

// sizeLocked is how many members r has on every node, as far as this node knows.
func (h *Hub) sizeLocked(r *Room) int {
	n := len(r.list())
	if h.presenceShared {
		n += h.elsewhereCountLocked(r)
	}
	return n
}

// elsewhereCountLocked is how many members other nodes hold in r, from a tally at most
// tallyEvery old.
func (h *Hub) elsewhereCountLocked(r *Room) int {
	t := &h.tally
	// A real clock: this bounds the cost of a cache, and a test's frozen clock would freeze it.
	now := time.Now()
	if t.counts == nil || now.Sub(t.at) >= tallyEvery || now.Before(t.at) {
		t.at = now
		t.counts = make(map[string]int)
		if t.keys == nil || len(t.keys) > maxTallyNames {
			t.keys = make(map[string]string)
		}
		for _, p := range h.claims.Online() {
			if h.liveMember(p.Member) != nil {
				continue // this node's: counted by the room's own list
			}
			for _, room := range p.Rooms {
				key, ok := t.keys[room]
				if !ok {
					n, err := ParseRoom(room)
					if err != nil {
						continue
					}
					key = n.looks[0]
					t.keys[room] = key
				}
				t.counts[key]++
			}
		}
	}
	return t.counts[r.key()]
}

// moderatesLocked reports whether m may moderate r: its owner, or an operator.
func moderatesLocked(r *Room, m *member) bool {
	return m.oper || r.owner == m || (r.ownerID != 0 && r.ownerID == m.id)
}

// announcedLocked reports whether m's coming to or going from r is told to the room: always
// in a room that is not large, and only for its moderators in one that is. Called with m
// counted among r's members (after a join, before a leave).
func (h *Hub) announcedLocked(r *Room, m *member) bool {
	return !h.largeLocked(r) || moderatesLocked(r, m)
}

// tellLargeLocked tells device d, which has just entered r, that r is large, if it is.
func (h *Hub) tellLargeLocked(d *Session, r *Room) {
	if !r.large.Load() { // as announcedLocked found it for this entry
		return
	}
	d.noticef("%s has %d members: its members' joins and leaves are not shown here, only its owner's and operators'; /who lists who moderates it, /whois NAME finds anyone",
		r.name.Display, h.sizeLocked(r))
}

// boundedMembersLocked lists a large room's members for asker (nil: nobody in particular):
// its moderators first, then asker, then those there longest, at most maxLargeListed; Total
// says how many it has.
func (h *Hub) boundedMembersLocked(r *Room, asker *member) RoomMembers {
	members := r.list()
	out := RoomMembers{Room: r.name.Display, Total: h.sizeLocked(r),
		Members: make([]MemberInfo, 0, maxLargeListed)}
	listed := make(map[uint64]bool, maxLargeListed)
	add := func(id uint64, info MemberInfo) {
		if len(out.Members) < maxLargeListed && !listed[id] {
			listed[id] = true
			out.Members = append(out.Members, info)
		}
	}
	here := func(who *member) {
		add(who.id, MemberInfo{Name: who.name().Display, Owner: who == r.owner, Operator: who.oper, Away: who.away})
	}
	var elsewhere []Presence
	if h.presenceShared {
		elsewhere = h.elsewhereIn(r.name, false)
	}
	there := func(p Presence) {
		add(p.Member, MemberInfo{Name: p.Name, Owner: r.ownerID != 0 && p.Member == r.ownerID, Operator: p.Operator, Away: p.Away})
	}
	if r.owner != nil {
		here(r.owner)
	}
	for _, who := range r.opers { // not a scan of every member: 50 million reads in a storm
		here(who)
	}
	for _, p := range elsewhere {
		if p.Operator || (r.ownerID != 0 && p.Member == r.ownerID) {
			there(p)
		}
	}
	if asker != nil && slices.Contains(asker.rooms, r) {
		here(asker)
	}
	for _, who := range members {
		if len(out.Members) >= maxLargeListed {
			break
		}
		here(who)
	}
	for _, p := range elsewhere {
		if len(out.Members) >= maxLargeListed {
			break
		}
		there(p)
	}
	return out
}

// boundPresences bounds the list of a room this node has nobody in, whose members are all
// elsewhere: the operators first, then the rest, at most maxLargeListed once there are more
// than the announce limit.
func (h *Hub) boundPresences(out *RoomMembers) {
	out.Total = len(out.Members)
	if limit := h.cfg.AnnounceLimit; limit <= 0 || out.Total <= limit {
		return
	}
	slices.SortStableFunc(out.Members, func(a, b MemberInfo) int {
		switch {
		case a.Operator == b.Operator:
			return 0
		case a.Operator:
			return -1
		}
		return 1
	})
	out.Members = out.Members[:min(len(out.Members), maxLargeListed)]
}
