package wsgateway

import (
	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
)

// queued is one event waiting for the writer.
type queued struct {
	b    []byte          // the encoded event
	kind connpolicy.Kind // when a slow reader may miss it
	from string          // a private message's sender
	kept bool            // a private message kept in history (chat.Message.ID != 0)
}

// outQueue is a connection's events not yet written, oldest first. Each event is shared with
// every recipient (chat.Message.Encoded): the queue holds references, and counts their bytes.
type outQueue struct {
	events []queued
	size   int // bytes of the events
}

// Size returns the bytes queued (connpolicy.Queue).
func (q *outQueue) Size() int { return q.size }

// SkipOldest removes events of kind, oldest first, until at least need bytes are gone or none
// is left, and returns how many it removed (connpolicy.Queue).
func (q *outQueue) SkipOldest(need int, kind connpolicy.Kind, b *connpolicy.Backlog) int {
	n, removed := len(q.events), 0
	kept := q.events[:0] // filtered in place: kept never grows past the element being read
	for _, e := range q.events {
		if e.kind == kind && removed < need {
			removed += len(e.b)
			if kind == connpolicy.KindPrivate {
				b.SkipPrivate(e.from, e.kept)
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(q.events[len(kept):n])
	q.events = kept
	q.size -= removed
	return n - len(kept)
}

func (q *outQueue) push(e queued) {
	q.events = append(q.events, e)
	q.size += len(e.b)
}

func (q *outQueue) reset() {
	clear(q.events)
	q.events, q.size = nil, 0
}

// Deliver queues m for the browser (chat.Client). It never blocks. A client that reads slower
// than others talk to it is held to the slow-reader rule of every transport
// (connpolicy.Backlog.Admit): past MaxQueue the oldest room lines queued for it are skipped,
// past the hard cap the oldest private messages too, and only a client whose answers to its own
// commands pass the hard cap is dropped.
func (c *conn) Deliver(m *chat.Message) {
	if m.Kind == chat.KindAway {
		return // /who and /whois show who is away when asked: the page is not told each change
	}
	b := m.Encoded(jsonEncoding{})
	kind, from, kept := connpolicy.KindOf(m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.out.size+len(b) > c.srv.cfg.MaxQueue {
		switch v, _ := c.backlog.Admit(&c.out, c.srv.cfg.Limits, len(b), kind, from, kept); v {
		case connpolicy.Skip:
			c.wake.Signal() // there is a notice to send
			return
		case connpolicy.Drop:
			c.finishLocked(websocket.StatusPolicyViolation, connpolicy.ReasonSlowConsumer, "slow consumer", false)
			return
		}
	}
	c.out.push(queued{b: b, kind: kind, from: from, kept: kept})
	c.wake.Signal()
}

// queueEvent queues an event of the gateway's own (not a chat message) for the browser.
func (c *conn) queueEvent(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.out.push(queued{b: b})
	c.wake.Signal()
}

// taken is what the writer took from the queue for one message.
type taken struct {
	events [][]byte
	size   int // bytes of the events
}

// takeLocked removes from the queue the oldest events, up to about WriterBatch bytes (at
// least one, and at most maxBatch), after the notices of what was skipped that are due
// (connpolicy.Backlog.Due), and returns them with how many chat messages they hold. It takes
// little at a time as what it takes can no longer be skipped. c.mu must be held.
func (c *conn) takeLocked() (taken, int) {
	var t taken
	if c.backlog.Pending() {
		for _, m := range c.backlog.Due(c.out.size == 0) {
			t.events = append(t.events, m.Encoded(jsonEncoding{}))
			t.size += len(t.events[len(t.events)-1])
		}
	}
	limit := min(maxBatch, c.srv.cfg.WriterBatch())
	n := 0
	for n < len(c.out.events) {
		b := c.out.events[n].b
		if len(t.events) > 0 && t.size+len(b) > limit {
			break
		}
		t.events = append(t.events, b)
		t.size += len(b)
		n++
	}
	clear(c.out.events[:n])
	c.out.events = c.out.events[n:]
	for _, b := range t.events[len(t.events)-n:] {
		c.out.size -= len(b)
	}
	if len(c.out.events) == 0 {
		c.out.events = nil // let the array go: an idle connection holds nothing
	}
	c.backlog.Taken(c.out.size)
	return t, n
}

// pendingLocked reports whether the writer has something to send. c.mu must be held.
func (c *conn) pendingLocked() bool {
	return len(c.out.events) > 0 || c.backlog.Pending()
}
