package chat

import (
	"slices"
	"sync/atomic"
)

// Room is a place members talk in. Everyone starts in the lobby; other rooms exist while they
// have members.
type Room struct {
	name  Name
	topic string  // guarded by hub.mu
	owner *member // who may set the topic and kick; nil for the lobby; guarded by hub.mu
	// ownerID is the owner's member number, which in a cluster may be another node's member
	// (owner is then nil), and rev the revision of the cluster's record r was last made from
	// (see Rooms); both 0 on a single node. Guarded by hub.mu.
	ownerID uint64
	rev     uint64

	// recent is the room's last lines (at most Config.Replay), replayed to whoever joins;
	// guarded by hub.mu. Kept only with history, since their IDs come from it.
	recent []Record

	members cowList[*member] // read with no lock by whoever delivers a line said in the room

	// large is what Hub.largeLocked last found: the room has more members than the announce
	// limit. Written under hub.mu, read with no lock by deliver (a quit the cluster reports).
	large atomic.Bool
	// opers are the members who are operators, for listing a large room's moderators without
	// reading all its members; kept by addLocked, removeLocked and Hub.showLocked (which runs
	// whenever a member's operator rights change). Guarded by hub.mu.
	opers []*member
}

// key is the room's name as history knows it: one key for all its look-alikes.
func (r *Room) key() string { return r.name.looks[0] }

func newRoom(n Name) *Room {
	r := &Room{name: n}
	return r
}

// list returns the members, in the order they joined. The slice must not be modified.
func (r *Room) list() []*member { return r.members.load() }

func (r *Room) addLocked(m *member) {
	r.members.add(m)
	if m.oper {
		r.opers = append(r.opers, m)
	}
}

func (r *Room) removeLocked(m *member) {
	r.members.remove(m)
	r.opers = slices.DeleteFunc(r.opers, func(o *member) bool { return o == m })
}

// operChangedLocked keeps opers in step with m's rights, m being one of r's members.
func (r *Room) operChangedLocked(m *member) {
	if listed := slices.Contains(r.opers, m); listed != m.oper {
		if m.oper {
			r.opers = append(r.opers, m)
		} else {
			r.opers = slices.DeleteFunc(r.opers, func(o *member) bool { return o == m })
		}
	}
}
