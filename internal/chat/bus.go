package chat

import "sync"

// Event is something that happened in a room, as the Bus carries it: every member of the room,
// on whichever node, is shown Msg in the room's one order.
type Event struct {
	// Seq is the event's place in its room's order, set by the bus: one room's events reach
	// every subscriber in increasing Seq.
	Seq uint64
	// Room is the key of the room it happened in. For an event about a member in several
	// rooms at once (a quit, a nick change) Room is "" and Rooms lists them: each member of
	// any of them is told once.
	Room  string
	Rooms []string
	// To is the member an event is for alone (a private message, a notice about the member:
	// kicked, muted, owner of a room now); Room and Rooms are then empty.
	To  uint64
	Msg *Message
	// Order is a moderation act (Msg is then nil): for the member To (a kick), or, with no
	// To, for every node (a mute, a ban), which each carries out for its own members.
	Order *Order
	From  Origin // who caused it
	// Record is what this node's history kept of the event (a line, an action, a private
	// message between accounts), for the other nodes' histories to keep too; nil when nothing
	// was kept.
	Record *Record
	// Lost says a quit is the cluster's, not the member's: its node died or lost NATS, so
	// nobody there can pass on the rooms it owned (never set on an event that travels).
	Lost bool
	// Operator says the member of a Lost quit was an operator: its quit is told in large rooms
	// too (see large.go); the owner's is told when its rooms are passed on (ownerLostLocked).
	Operator bool
}

// Origin names the member and the device an event came from, by numbers that stay valid when
// the event travels: no pointers.
type Origin struct {
	Member uint64 // the member (person); 0 for the server
	Device uint64 // the connection that typed it; 0 when none did
	// Account is the member's account ID, 0 for a guest: a reply to a private message goes to
	// the same account, whichever device or node it is on by then.
	Account int64
}

// Bus carries room events to every node with members in the room, each room's events in one
// order. A single node uses an in-process bus (see newLocalBus): it is a cluster of one.
//
// What an implementation must give (issue 16 builds one on NATS JetStream):
//   - Publish returns nil only once the event is accepted for good (for JetStream: once the
//     stream acknowledged it), so that nothing shown is lost; an error means nobody is shown it.
//   - Each subscriber gets each room's events in Seq order, each once: gaps refilled,
//     duplicates (at-least-once delivery) dropped by Seq.
//   - deliver, the function the bus calls for each event, never blocks and takes no lock of
//     the hub's: the local bus calls it from Publish, whose caller may hold Hub.mu.
type Bus interface {
	Publish(ev Event) error
	// Subscribe says this node has members in room from now on, and Unsubscribe that it has
	// none any more: a node receives only the events of its rooms.
	Subscribe(room string) error
	Unsubscribe(room string)
}

// roomPreparer is a Bus whose Subscribe waits on the network unless the room was prepared:
// the hub prepares a room new to this node with no lock held, then subscribes under it.
type roomPreparer interface {
	Prepare(room string) error
}

// NewLocalBus returns the in-process Bus, which calls deliver for each event: what a single
// node uses (Config.NewBus nil), and what another Bus may be compared with in tests.
func NewLocalBus(deliver func(Event)) Bus { return newLocalBus(deliver) }

// localBus is the in-process Bus: Publish delivers at once, under the room's lock, so that the
// room's events are delivered in the order their Seq says.
type localBus struct {
	deliver func(Event)
	rooms   sync.Map // room key → *sequencer; read with no lock by every line said
}

// sequencer orders one room's events.
type sequencer struct {
	mu  sync.Mutex // held while an event of the room is delivered; below Hub.mu
	seq uint64
}

func newLocalBus(deliver func(Event)) *localBus {
	return &localBus{deliver: deliver}
}

func (b *localBus) Publish(ev Event) error {
	key := ev.Room
	if key == "" {
		// Events about a member in several rooms, and events for one member, have an order of
		// their own.
		key = memberEvents
	}
	v, ok := b.rooms.Load(key)
	if !ok {
		v, _ = b.rooms.LoadOrStore(key, &sequencer{})
	}
	q := v.(*sequencer)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	ev.Seq = q.seq
	b.deliver(ev)
	return nil
}

func (b *localBus) Subscribe(string) error { return nil }

// Unsubscribe forgets the room's sequencer: a room made again starts a new order.
func (b *localBus) Unsubscribe(room string) { b.rooms.Delete(room) }

// memberEvents is the local bus's key for events with Rooms rather than a Room: no room key
// is empty.
const memberEvents = ""
