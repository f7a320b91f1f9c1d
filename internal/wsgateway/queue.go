package wsgateway

import (
	"sync"

	"github.com/gobwas/ws"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
)

// queued is one frame waiting to be written.
type queued struct {
	b       []byte          // the whole frame, shared with every recipient of its message
	kind    connpolicy.Kind // when a slow reader may miss it
	from    string          // a private message's sender
	kept    bool            // a private message kept in history (chat.Message.ID != 0)
	control bool            // a ping, pong or close frame: no chat message
}

// outQueue is a connection's frames not yet written, oldest first. Each chat message's frame
// is shared with every recipient (chat.Message.Encoded): the queue holds references, and
// counts their bytes.
type outQueue struct {
	events []queued
	size   int // bytes of the frames
}

// Size returns the bytes queued (connpolicy.Queue).
func (q *outQueue) Size() int { return q.size }

// SkipOldest removes frames of kind, oldest first, until at least need bytes are gone or none
// is left, and returns how many it removed (connpolicy.Queue).
func (q *outQueue) SkipOldest(need int, kind connpolicy.Kind, b *connpolicy.Backlog) int {
	n, removed := len(q.events), 0
	kept := q.events[:0] // filtered in place: kept never grows past the element being read
	for _, e := range q.events {
		if e.kind == kind && !e.control && removed < need {
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
	if q.events == nil {
		q.events = (*queueArrays.Get().(*[]queued))[:0]
	}
	q.events = append(q.events, e)
	q.size += len(e.b)
}

func (q *outQueue) reset() {
	q.release()
	q.size = 0
}

// release gives the queue's array back to the pool once it is empty: an idle connection holds
// none, and a busy one does not allocate one for each burst.
func (q *outQueue) release() {
	if q.events == nil {
		return
	}
	a := q.events[:cap(q.events)]
	clear(a)
	q.events = nil
	if cap(a) <= maxPooledQueue {
		a = a[:0]
		queueArrays.Put(&a)
	}
}

// maxPooledQueue is the longest queue array kept for reuse: a longer one was a slow reader's.
const maxPooledQueue = 1024

var queueArrays = sync.Pool{New: func() any { a := make([]queued, 0, 16); return &a }}

// Deliver queues m for the browser (chat.Client). It never blocks. A client that reads slower
// than others talk to it is held to the slow-reader rule of every transport
// (connpolicy.Backlog.Admit): past MaxQueue the oldest room lines queued for it are skipped,
// past the hard cap the oldest private messages too, and only a client whose answers to its own
// commands pass the hard cap is dropped.
func (c *conn) Deliver(m *chat.Message) {
	if m.Kind == chat.KindAway {
		return // /who and /whois show who is away when asked: the page is not told each change
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliverLocked(m)
}

// DeliverLines queues ms, room lines said one after another, under the connection's lock once
// (chat.LinesClient).
func (c *conn) DeliverLines(ms []*chat.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range ms {
		c.deliverLocked(m)
	}
}

// deliverLocked queues m, as Deliver says. c.mu must be held.
func (c *conn) deliverLocked(m *chat.Message) {
	if c.closing {
		return
	}
	b := m.Encoded(frameEncoding{})
	kind, from, kept := connpolicy.KindOf(m)
	if c.out.size+len(b) > c.srv.cfg.MaxQueue {
		switch v, removed := c.backlog.Admit(&c.out, c.srv.cfg.Limits, len(b), kind, from, kept); v {
		case connpolicy.Skip:
			c.queuedMsgs = max(c.queuedMsgs-removed, 0)
			c.scheduleLocked() // there is a notice to send
			return
		case connpolicy.Drop:
			c.finishLocked(ws.StatusPolicyViolation, connpolicy.ReasonSlowConsumer, "slow consumer", false)
			return
		default:
			c.queuedMsgs = max(c.queuedMsgs-removed, 0)
		}
	}
	c.out.push(queued{b: b, kind: kind, from: from, kept: kept})
	c.queuedMsgs++
	c.scheduleLocked()
}

// queueEvent queues an event of the gateway's own (not a chat message) for the browser.
func (c *conn) queueEvent(event []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.out.push(queued{b: textFrame(event)})
	c.queuedMsgs++
	c.scheduleLocked()
}

// control queues a control frame of op (a ping or a pong) ahead of nothing: it waits its turn
// behind what is queued, as every frame does, since frames cannot be interleaved mid-frame.
func (c *conn) control(op ws.OpCode, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.out.push(queued{b: controlFrame(op, payload), control: true})
	c.scheduleLocked()
}

// pendingLocked reports whether the writer has something to send. c.mu must be held.
func (c *conn) pendingLocked() bool {
	return len(c.out.events) > 0 || c.backlog.Pending()
}

// takeLocked appends to dst the oldest frames, up to about limit bytes (at least one) and at
// most maxFrames, after the notices of what was skipped that are due
// (connpolicy.Backlog.Due), and returns dst and how many chat messages it took. c.mu must be
// held.
func (c *conn) takeLocked(dst [][]byte, limit, maxFrames int) ([][]byte, int) {
	size, msgs := 0, 0
	if c.backlog.Pending() {
		for _, m := range c.backlog.Due(c.out.size == 0) {
			b := m.Encoded(frameEncoding{})
			dst = append(dst, b)
			size += len(b)
			msgs++
		}
	}
	n := 0
	for n < len(c.out.events) && n < maxFrames {
		e := c.out.events[n]
		if n > 0 && size+len(e.b) > limit {
			break
		}
		dst = append(dst, e.b)
		size += len(e.b)
		c.out.size -= len(e.b)
		if !e.control {
			msgs++
		}
		n++
	}
	if n == len(c.out.events) {
		c.out.release()
	} else {
		clear(c.out.events[:n])
		c.out.events = c.out.events[n:]
	}
	c.backlog.Taken(c.out.size)
	return dst, msgs
}
