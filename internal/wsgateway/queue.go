package wsgateway

import (
	"sync"

	"github.com/gobwas/ws"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/wsframe"
)

// queued is a frame waiting to be written, or a run of small frames of one kind copied into a
// block.
type queued struct {
	b       []byte          // the whole frame, shared with every recipient of its message; or frames in blk
	blk     *block          // the pooled block b lies in, or nil when b is a shared frame
	frames  int             // the frames b holds, when blk is set (else 1)
	kind    connpolicy.Kind // when a slow reader may miss it
	from    string          // a private message's sender
	kept    bool            // a private message kept in history (chat.Message.ID != 0)
	control bool            // a ping, pong or close frame: no chat message
	pong    bool            // the answer to the client's latest ping
}

// outQueue is a connection's frames not yet written, oldest first, in a ring: a flusher takes
// from the front what the socket accepts while the chat appends at the back, and a slice
// taken from the front would lose that capacity and grow again (growslice and its copies were
// a tenth of a WebSocket fan-out). Each chat message's frame is shared with every recipient
// (chat.Message.Encoded): the queue holds references, and counts their bytes.
type outQueue struct {
	ring    []queued // a power of two long, or nil when empty; zero where nothing is queued
	head, n int
	size    int  // bytes of the frames
	pong    bool // a pong is queued
	// held is the bytes the connection's writer of its own took from the queue and has not
	// written yet: up to a whole flush (a megabyte) that a full socket did not take. They wait
	// for the client as much as what is queued, and count in Size until written, though they
	// can no longer be skipped: counted out, they let a client that reads nothing hold twice
	// the hard cap, and room lines were skipped later than MaxQueue says.
	held int
}

// Size returns the bytes waiting for the client (connpolicy.Queue): queued, or held by its
// writer.
func (q *outQueue) Size() int { return q.size + q.held }

// len returns how many frames are queued.
func (q *outQueue) len() int { return q.n }

// at returns the i-th oldest frame.
func (q *outQueue) at(i int) *queued { return &q.ring[(q.head+i)&(len(q.ring)-1)] }

// SkipOldest removes frames of kind, oldest first, until at least need bytes are gone or none
// is left, and returns how many frames it removed (connpolicy.Queue).
func (q *outQueue) SkipOldest(need int, kind connpolicy.Kind, b *connpolicy.Backlog) int {
	n, removed, kept := q.n, 0, 0
	frames := 0
	for i := range n {
		e := q.at(i)
		if e.kind == kind && !e.control && removed < need && e.blk != nil {
			// Whole frames from the front of the block, as many as need asks.
			cut, k := 0, 0
			for k < e.frames && removed < need {
				l := frameLen(e.b[cut:])
				cut, removed, k = cut+l, removed+l, k+1
			}
			frames += k
			if k < e.frames {
				e.b, e.frames = e.b[cut:], e.frames-k
			} else {
				blocks.Put(e.blk)
				continue
			}
		} else if e.kind == kind && !e.control && removed < need {
			removed += len(e.b)
			frames++
			if kind == connpolicy.KindPrivate {
				b.SkipPrivate(e.from, e.kept)
			}
			continue
		}
		if kept != i { // filtered in place: kept never passes the element being read
			*q.at(kept) = *e
		}
		kept++
	}
	for i := kept; i < n; i++ {
		*q.at(i) = queued{}
	}
	q.n = kept
	q.size -= removed
	if q.n == 0 {
		q.release()
	}
	return frames
}

// blockSize is the size of the blocks small frames are copied into. Larger than the line
// door's 1 KiB: a block is held only while it waits to be written, and a fan-out of 100 (frames
// of 95 bytes) took 7–17 % less server CPU per delivery with 4 KiB blocks than with 1 KiB ones,
// for the same idle memory after a storm (docs/benchmarks.md, "WebSocket frames in blocks").
const blockSize = 4096

// maxCopiedFrame is the longest frame copied into a block rather than queued by reference:
// writing frames of 1 KiB from one block cost less than an iovec each, frames of 2 KiB more
// (a writev of 500 frames to a loopback socket, per frame: 100 bytes 40 against 120 ns, 512
// bytes 175 against 280, 1 KiB 290 against 350, 2 KiB 700 against 560).
const maxCopiedFrame = 1024

// block holds small frames, whole, one after another.
type block [blockSize]byte

// blocks recycles the blocks between connections: a connection holds blocks only while it has
// output waiting, so an idle connection holds none.
var blocks = sync.Pool{New: func() any { return new(block) }}

// putBlocks gives bs back to the pool, once nothing reads them any more.
func putBlocks(bs []*block) {
	for i, b := range bs {
		blocks.Put(b)
		bs[i] = nil
	}
}

// pushFrame queues a chat message's frame f, as push does, but copies a small one (a room
// line, a notice: not a private message, whose sender is kept beside it) to the end of the
// last block of its kind, so that a flush hands the kernel a few blocks rather than an iovec
// per frame: in a fan-out the kernel's walk over the iovecs, and the ring's references (a
// pointer each, written under a collection's write barrier), cost more than copying 100 bytes.
// Frames are copied whole: each block splits into frames by their headers, and the slow-reader
// rule skips whole frames.
func (q *outQueue) pushFrame(f []byte, kind connpolicy.Kind) {
	if len(f) > maxCopiedFrame || kind == connpolicy.KindPrivate {
		q.push(queued{b: f, kind: kind})
		return
	}
	if q.n > 0 {
		if e := q.at(q.n - 1); e.blk != nil && e.kind == kind && cap(e.b)-len(e.b) >= len(f) {
			// Within the block, whose end is e.b's capacity. Resliced, not appended to: the
			// slice's pointer stays, and is not written again under the collector's barrier.
			n := len(e.b)
			e.b = e.b[:n+len(f)]
			copy(e.b[n:], f)
			e.frames++
			q.size += len(f)
			return
		}
	}
	blk := blocks.Get().(*block)
	q.push(queued{b: append(blk[:0], f...), blk: blk, frames: 1, kind: kind})
}

// frameLen returns the length of the frame at the start of b, which holds whole frames.
func frameLen(b []byte) int {
	h, n, _ := wsframe.ParseHeader(b)
	return n + int(h.Length)
}

func (q *outQueue) push(e queued) {
	if q.n == len(q.ring) {
		q.grow()
	}
	*q.at(q.n) = e
	q.n++
	q.size += len(e.b)
}

// grow makes room for one more frame: a pooled ring for an empty queue, else one twice as long.
func (q *outQueue) grow() {
	if q.ring == nil {
		q.ring = *queueRings.Get().(*[]queued)
		q.head = 0
		return
	}
	ring := make([]queued, 2*len(q.ring))
	for i := range q.n {
		ring[i] = *q.at(i)
	}
	clear(q.ring) // the frames moved: the pool must not keep them alive
	q.putRing()
	q.ring, q.head = ring, 0
}

// pushPong queues f, the pong of the client's latest ping, in place of a pong still queued:
// RFC 6455 5.5.3 lets a pong answer only the latest ping, and a pong queued for each ping let
// a client that sends pings and reads nothing grow its queue without bound (control frames
// are not skipped and not counted against the slow-reader rule).
func (q *outQueue) pushPong(f []byte) {
	if q.pong {
		for i := range q.n {
			if e := q.at(i); e.pong {
				q.size += len(f) - len(e.b)
				e.b = f
				return
			}
		}
	}
	q.push(queued{b: f, control: true, pong: true})
	q.pong = true
}

// drop removes the k oldest entries (their bytes already counted out by the caller, their
// blocks taken by it).
func (q *outQueue) drop(k int) {
	for i := range k {
		if q.at(i).pong {
			q.pong = false
		}
		*q.at(i) = queued{}
	}
	q.head = (q.head + k) & (len(q.ring) - 1)
	q.n -= k
	if q.n == 0 {
		q.release()
	}
}

func (q *outQueue) reset() {
	for i := range q.n {
		if e := q.at(i); e.blk != nil {
			blocks.Put(e.blk)
		}
		*q.at(i) = queued{}
	}
	q.n, q.pong = 0, false
	q.release()
	q.size = 0
}

// release gives an empty queue's ring back to the pool: an idle connection holds none, and a
// busy one does not allocate one for each burst.
func (q *outQueue) release() {
	q.putRing()
	q.ring, q.head = nil, 0
}

// putRing pools the ring, which must be all zero, unless it is a slow reader's.
func (q *outQueue) putRing() {
	if q.ring == nil || len(q.ring) > maxPooledQueue {
		return
	}
	r := q.ring
	queueRings.Put(&r)
}

// maxPooledQueue is the longest ring kept for reuse: a longer one was a slow reader's.
const maxPooledQueue = 1024

var queueRings = sync.Pool{New: func() any { r := make([]queued, 16); return &r }}

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
	b := m.Encoded(frameFormat)
	kind, from, kept := connpolicy.KindOf(m)
	if kind == connpolicy.KindKept {
		c.queuedMsgs = max(c.queuedMsgs-c.backlog.MakeWay(&c.out, c.srv.cfg.Limits, c.writer == writerOwn), 0)
	}
	if c.out.Size()+len(b) > c.srv.cfg.MaxQueue {
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
	if kind == connpolicy.KindPrivate {
		c.out.push(queued{b: b, kind: kind, from: from, kept: kept})
	} else {
		c.out.pushFrame(b, kind)
	}
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
	c.out.pushFrame(textFrame(event), connpolicy.KindKept)
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
	if op == ws.OpPong {
		c.out.pushPong(controlFrame(op, payload))
	} else {
		c.out.push(queued{b: controlFrame(op, payload), control: true})
	}
	c.scheduleLocked()
}

// pendingLocked reports whether the writer has something to send. c.mu must be held.
func (c *conn) pendingLocked() bool {
	return c.out.len() > 0 || c.backlog.Pending()
}

// takeLocked appends to dst the oldest frames, up to about limit bytes (at least one) and at
// most maxBufs buffers, after the notices of what was skipped that are due
// (connpolicy.Backlog.Due), and returns dst, the blocks they lie in (appended to blks: the
// caller gives them back with putBlocks once they are written) and how many chat messages it
// took. c.mu must be held.
func (c *conn) takeLocked(dst [][]byte, blks []*block, limit, maxBufs int) ([][]byte, []*block, int) {
	size, msgs := 0, 0
	if c.backlog.Pending() {
		for _, m := range c.backlog.Due(c.out.size == 0) {
			b := m.Encoded(frameFormat)
			dst = append(dst, b)
			size += len(b)
			msgs++
		}
	}
	n := 0
	for n < c.out.len() && n < maxBufs {
		e := c.out.at(n)
		if n > 0 && size+len(e.b) > limit {
			break
		}
		dst = append(dst, e.b)
		size += len(e.b)
		c.out.size -= len(e.b)
		switch {
		case e.blk != nil:
			blks = append(blks, e.blk)
			msgs += e.frames
		case !e.control:
			msgs++
		}
		n++
	}
	c.out.drop(n)
	c.backlog.Taken(c.out.size)
	return dst, blks, msgs
}
