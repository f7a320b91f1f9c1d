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

// say delivers m, a line said in r from the device from, to the devices of the other members
// who do not ignore its member, and to from's member's other devices as its own (Sent).
// Devices whose current room is another get a copy marked Elsewhere, made once.
func (r *Room) say(from *Session, m *Message) {
	var elsewhere, own, ownElsewhere *Message
	for _, who := range r.list() {
		if who == from.member {
			for _, d := range who.list() {
				if d == from {
					continue
				}
				if own == nil {
					own = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Sent: true,
						ID: m.ID, Time: m.Time}
					ownElsewhere = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Sent: true,
						ID: m.ID, Time: m.Time, Elsewhere: true}
				}
				d.deliverIn(r, own, ownElsewhere)
			}
			continue
		}
		if who.ignores(from.member) {
			continue
		}
		for _, d := range who.list() {
			if d.current.Load() == r {
				d.deliverIn(r, m, nil)
				continue
			}
			if elsewhere == nil {
				elsewhere = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Elsewhere: true,
					ID: m.ID, Time: m.Time}
			}
			d.deliverIn(r, m, elsewhere)
		}
	}
}

// deliverIn gives the device a line said in r: here when r is where its plain lines go, else
// elsewhere (when not nil). A device still being welcomed gets it after its welcome.
func (d *Session) deliverIn(r *Room, here, elsewhere *Message) {
	if !d.welcomed.Load() {
		d.awaitWelcome()
	}
	if elsewhere != nil && d.current.Load() != r {
		d.client.Deliver(elsewhere)
		return
	}
	d.client.Deliver(here)
}
