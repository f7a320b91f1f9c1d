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

// lineFlusher is a Bus that may hold a room's lines for another publisher to deliver (the
// local bus; see queueable): Flush returns once those queued so far are delivered. An event
// with an order of its own (a private message) waits so behind the lines its sender said
// before it. It may be called holding Hub.mu.
type lineFlusher interface {
	Flush(room string)
}

// NewLocalBus returns the in-process Bus, which calls deliver for each event: what a single
// node uses (Config.NewBus nil), and what another Bus may be compared with in tests.
func NewLocalBus(deliver func(Event)) Bus { return newLocalBus(deliver) }

// localBus is the in-process Bus: Publish delivers at once, one event of a room at a time,
// in the order their Seq says.
//
// A room's events are delivered by whoever publishes one while none of the room's is being
// delivered. A room line (a chat line or an action; see queueable) published meanwhile does not wait
// for its turn: it is queued, and the publisher that is delivering delivers it too before it
// returns. In a busy room the walks over the members then run one after another on one
// goroutine, and so on one core, which finds each connection's queue where the walk before
// left it, rather than passing the room from sender to sender (and from core to core) line by
// line; a sender goes back to reading at once. Any other event (a join, a leave, an order, a
// private message) waits for the lines queued before it and is delivered before Publish
// returns, as a user who kicks or joins expects.
type localBus struct {
	deliver func(Event)
	// deliverLines, when set, delivers several lines of one room at once (Hub.deliverLines):
	// what a turn found queued.
	deliverLines func([]Event)
	rooms        sync.Map // room key → *sequencer; read with no lock by every line said
}

// maxQueuedLines bounds the lines of one room waiting for the publisher that delivers: past
// it a publisher waits for a turn of its own.
const maxQueuedLines = 256

// maxTurnLines bounds the lines one turn delivers before it stops taking more (see
// deliverTurn): a few full queues, so that a busy room's turns still deliver in batches.
const maxTurnLines = 4 * maxQueuedLines

// sequencer orders one room's events.
type sequencer struct {
	mu         sync.Mutex // below Hub.mu: a publisher may hold the hub's lock
	turn       sync.Cond  // signalled when a turn ends, or its deliverer takes what was queued; uses mu
	seq        uint64     // guarded by mu
	delivering bool       // a publisher is delivering the room's events: its turn; guarded by mu
	waiting    int        // publishers of other events than lines waiting for a turn; guarded by mu
	queued     []Event    // room lines for the deliverer to deliver next, in Seq order; guarded by mu
	spare      []Event    // the array of a batch delivered, for the next; guarded by mu
}

func newLocalBus(deliver func(Event)) *localBus {
	return &localBus{deliver: deliver}
}

// queueable reports whether ev may be left for the publisher that delivers: a room line that
// history did not keep. A line history kept is published under Hub.mu, which a joiner takes
// too: the joiner must either be shown the line or find it in the room's memory, never both,
// so it is delivered before its publisher lets go of the lock.
func queueable(ev *Event) bool {
	return ev.Room != "" && ev.To == 0 && ev.Order == nil && ev.Record == nil && ev.Msg != nil &&
		(ev.Msg.Kind == KindChat || ev.Msg.Kind == KindAction)
}

func (b *localBus) Publish(ev Event) error {
	key := ev.Room
	if key == "" {
		// Events about a member in several rooms, and events for one member, have an order of
		// their own.
		key = memberEvents
	}
	for _, room := range ev.Rooms {
		// A quit, a rename or an away of a member in these rooms comes after the lines it said
		// there, which may still be queued for another publisher's turn.
		b.Flush(room)
	}
	v, ok := b.rooms.Load(key)
	if !ok {
		v, _ = b.rooms.LoadOrStore(key, newSequencer())
	}
	q := v.(*sequencer)
	line := queueable(&ev)
	q.mu.Lock()
	if !line {
		q.waiting++
	}
	for q.delivering {
		// A line is left to the deliverer, unless an event that must be delivered before its
		// publisher returns waits for a turn: lines queued meanwhile would keep it waiting.
		if line && q.waiting == 0 && len(q.queued) < maxQueuedLines {
			q.seq++
			ev.Seq = q.seq
			q.queued = append(q.queued, ev)
			q.mu.Unlock()
			return nil
		}
		q.turn.Wait()
	}
	if !line {
		q.waiting--
	}
	q.delivering = true
	q.seq++
	ev.Seq = q.seq
	q.mu.Unlock()
	b.deliverTurn(q, ev)
	return nil
}

// deliverTurn delivers ev, then the lines queued meanwhile, until none is left, and ends the
// turn. A panic in deliver (a bug, the publisher's to recover) ends the turn too, dropping what
// was queued, so that the room's next publisher is not stuck.
//
// A turn is bounded: once it has delivered maxTurnLines lines, no more are queued for it (as
// while an event waits), so that it ends once those queued are delivered and its publisher
// goes back to its own connection; the publishers held meanwhile take the next turn. Without
// the bound a room that talks without let-up would keep one publisher delivering it for as
// long as it does.
func (b *localBus) deliverTurn(q *sequencer, ev Event) {
	var batch []Event
	ended, handing := false, false
	defer func() {
		if ended {
			return
		}
		q.mu.Lock()
		clear(q.queued)
		q.queued = q.queued[:0]
		if handing {
			q.waiting--
		}
		q.delivering = false
		q.turn.Broadcast()
		q.mu.Unlock()
	}()
	b.deliver(ev)
	delivered := 1
	for {
		q.mu.Lock()
		clear(batch)
		if !handing && delivered >= maxTurnLines {
			handing = true
			q.waiting++
		}
		if len(q.queued) == 0 {
			if cap(batch) > cap(q.spare) {
				q.spare = batch[:0]
			}
			if handing {
				q.waiting--
			}
			q.delivering, ended = false, true
			q.turn.Broadcast()
			q.mu.Unlock()
			return
		}
		batch, q.queued, q.spare = q.queued, q.spare[:0], nil
		q.turn.Broadcast() // room for the lines waiting on a full queue
		q.mu.Unlock()
		delivered += len(batch)
		if b.deliverLines != nil && len(batch) > 1 {
			b.deliverLines(batch)
			continue
		}
		for i := range batch {
			b.deliver(batch[i])
		}
	}
}

// drain waits until the room's lines queued so far are delivered: the turn delivering them
// has ended. Lines are not queued meanwhile (waiting), so a busy room does not keep it waiting.
func (q *sequencer) drain() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.delivering {
		return
	}
	q.waiting++
	for q.delivering {
		q.turn.Wait()
	}
	q.waiting--
	q.turn.Broadcast() // lines held back while this waited may be queued again
}

// Flush returns once the room's lines queued so far are delivered (see lineFlusher).
func (b *localBus) Flush(room string) {
	if v, ok := b.rooms.Load(room); ok {
		v.(*sequencer).drain()
	}
}

func newSequencer() *sequencer {
	q := &sequencer{}
	q.turn.L = &q.mu
	return q
}

func (b *localBus) Subscribe(string) error { return nil }

// Unsubscribe forgets the room's sequencer: a room made again starts a new order.
func (b *localBus) Unsubscribe(room string) { b.rooms.Delete(room) }

// memberEvents is the local bus's key for events with Rooms rather than a Room: no room key
// is empty.
const memberEvents = ""
