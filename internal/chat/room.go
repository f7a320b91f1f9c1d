package chat

import "sync/atomic"

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
}

// key is the room's name as history knows it: one key for all its look-alikes.
func (r *Room) key() string { return r.name.looks[0] }

func newRoom(n Name) *Room {
	r := &Room{name: n}
	return r
}

// list returns the members, in the order they joined. The slice must not be modified.
func (r *Room) list() []*member { return r.members.load() }

func (r *Room) addLocked(m *member)    { r.members.add(m) }
func (r *Room) removeLocked(m *member) { r.members.remove(m) }
