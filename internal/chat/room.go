package chat

import "sync/atomic"

// Room is a place members talk in. Everyone starts in the lobby; other rooms exist while they
// have members.
type Room struct {
	name  Name
	topic string   // guarded by hub.mu
	owner *Session // who may set the topic and kick; nil for the lobby; guarded by hub.mu

	// recent is the room's last lines (at most Config.Replay), replayed to whoever joins;
	// guarded by hub.mu. Kept only with history, since their IDs come from it.
	recent []Record

	// members is replaced (copy on write) under hub.mu, so that a line said in the room goes
	// to a list read with no lock.
	members atomic.Pointer[[]*Session]
}

// key is the room's name as history knows it: one key for all its look-alikes.
func (r *Room) key() string { return r.name.looks[0] }

func newRoom(n Name) *Room {
	r := &Room{name: n}
	r.members.Store(&[]*Session{})
	return r
}

// list returns the members, in the order they joined. The slice must not be modified.
func (r *Room) list() []*Session { return *r.members.Load() }

func (r *Room) addLocked(s *Session) {
	old := r.list()
	members := make([]*Session, len(old), len(old)+1)
	copy(members, old)
	members = append(members, s)
	r.members.Store(&members)
}

func (r *Room) removeLocked(s *Session) {
	old := r.list()
	members := make([]*Session, 0, max(len(old)-1, 0))
	for _, m := range old {
		if m != s {
			members = append(members, m)
		}
	}
	r.members.Store(&members)
}

// say delivers m, a line from a member said in r, to the other members who do not ignore
// from. Members whose current room is another get a copy marked Elsewhere, made once.
func (r *Room) say(from *Session, m *Message) {
	var elsewhere *Message
	for _, s := range r.list() {
		if s == from || s.ignores(from) {
			continue
		}
		if !s.welcomed.Load() {
			s.awaitWelcome()
		}
		if s.current.Load() == r {
			s.client.Deliver(m)
			continue
		}
		if elsewhere == nil {
			elsewhere = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Elsewhere: true}
		}
		s.client.Deliver(elsewhere)
	}
}
