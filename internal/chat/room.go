package chat

import "sync/atomic"

// Room is a place members talk in. Everyone starts in the lobby; other rooms exist while they
// have members.
type Room struct {
	name  Name
	topic string  // guarded by hub.mu
	owner *member // who may set the topic and kick; nil for the lobby; guarded by hub.mu

	// recent is the room's last lines (at most Config.Replay), replayed to whoever joins;
	// guarded by hub.mu. Kept only with history, since their IDs come from it.
	recent []Record

	// members is replaced (copy on write) under hub.mu, so that a line said in the room goes
	// to a list read with no lock.
	members atomic.Pointer[[]*member]
}

// key is the room's name as history knows it: one key for all its look-alikes.
func (r *Room) key() string { return r.name.looks[0] }

func newRoom(n Name) *Room {
	r := &Room{name: n}
	r.members.Store(&[]*member{})
	return r
}

// list returns the members, in the order they joined. The slice must not be modified.
func (r *Room) list() []*member { return *r.members.Load() }

func (r *Room) addLocked(s *member) {
	old := r.list()
	members := make([]*member, len(old), len(old)+1)
	copy(members, old)
	members = append(members, s)
	r.members.Store(&members)
}

func (r *Room) removeLocked(s *member) {
	old := r.list()
	members := make([]*member, 0, max(len(old)-1, 0))
	for _, m := range old {
		if m != s {
			members = append(members, m)
		}
	}
	r.members.Store(&members)
}
