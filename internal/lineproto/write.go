package lineproto

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

// How output reaches the socket.
//
// A broadcast appends to each member's queue (write) and puts the member on a flusher's list if
// it is not there already. A flusher is one goroutine serving many connections: it takes a
// connection's whole queue (up to what one writev takes) and hands it to the kernel with one
// non-blocking writev. While a flusher works through its list, more output piles up in the
// queues behind it, so the busier the server, the more lines each writev carries: a join storm
// or a flood of lines costs a syscall per connection per pass, not per line. Only when a socket
// is full (its client reads slowly) does the connection get a writer goroutine of its own,
// which takes the queue a little at a time (what waits can still be skipped, see
// makeRoomLocked), waits for the socket, gives up only when the socket takes nothing for
// --write-timeout, and gives the connection back to the flushers once it has caught up. Idle
// connections have no writer at all.
//
// A stream that is not a kernel socket (TLS) cannot be written without blocking: its output
// always goes through a writer of its own, started when output is queued and gone once the
// queue is empty; the slow-reader rule and the write timeout are the same.

// write queues b, output of kind (kindKept or kindRoom). It never blocks, and never lets one
// client hold up anyone else.
func (c *conn) write(b []byte, kind lineKind) {
	c.mu.Lock()
	kick := c.queueLocked(b, kind, privateLine{})
	c.mu.Unlock()
	if kick {
		c.flusher.Add(c)
	}
}

// DeliverLines queues ms, room lines said one after another, under one lock
// (chat.LinesClient): the lock's release waits for the stores of the lines' bytes, which then
// overlap rather than wait one line at a time.
func (c *conn) DeliverLines(ms []*chat.Message) { c.queueLines(ms, c.srv.enc) }

// queueLines queues ms, room lines, rendered by enc, under one lock.
func (c *conn) queueLines(ms []*chat.Message, enc chat.Encoder) {
	kick := false
	c.mu.Lock()
	for _, m := range ms {
		b := m.Encoded(enc)
		if len(b) == 0 {
			continue
		}
		kind, from, kept := connpolicy.KindOf(m)
		if c.queueLocked(b, kind, privateLine{from: from, kept: kept}) {
			kick = true
		}
	}
	c.mu.Unlock()
	if kick {
		c.flusher.Add(c)
	}
}

// writePrivate queues b, a private message to the client from pl.from.
func (c *conn) writePrivate(b []byte, pl privateLine) {
	c.mu.Lock()
	kick := c.queueLocked(b, kindPrivate, pl)
	c.mu.Unlock()
	if kick {
		c.flusher.Add(c)
	}
}

// queueLocked queues b, of kind (from pl if private), and reports whether the caller must add
// c to its flusher's list. c.mu must be held.
func (c *conn) queueLocked(b []byte, kind lineKind, pl privateLine) bool {
	if c.state != stateOpen {
		return false
	}
	if kind == connpolicy.KindKept {
		c.queuedMsgs = max(c.queuedMsgs-c.backlog.MakeWay(c.waiting(), c.srv.cfg, c.writer == writerOwn), 0)
	}
	if c.waiting().Size()+len(b) > c.srv.cfg.MaxQueue && !c.makeRoomLocked(len(b), kind, pl) {
		return false
	}
	if kind == kindPrivate {
		c.out.writePrivate(b, pl)
	} else {
		c.out.write(b, kind)
	}
	c.queuedMsgs++
	return c.scheduleLocked()
}

// makeRoomLocked is what write does when n more bytes of kind would take c's queue past
// MaxQueue: the client reads slower than others talk to it. It applies the slow-reader rule
// (connpolicy.Backlog.Admit: skip the oldest room lines, then past the hard cap the oldest
// private messages, and drop only a client whose own answers pass it) and reports whether to
// queue the n bytes. c.mu must be held.
func (c *conn) makeRoomLocked(n int, kind lineKind, pl privateLine) bool {
	verdict, removed := c.backlog.Admit(c.waiting(), c.srv.cfg, n, kind, pl.from, pl.kept)
	c.queuedMsgs = max(c.queuedMsgs-removed, 0)
	switch verdict {
	case connpolicy.Accept:
		return true
	case connpolicy.Drop:
		c.closeLocked(connpolicy.ReasonSlowConsumer)
	}
	return false
}

// waiting is a connection's output as the slow-reader rule sees it (connpolicy.Queue): what
// is queued, and what the writer of its own took from the queue and has not written (held).
// A writer may hold a whole flush's worth, up to flush.MaxIovecs blocks, which the socket did
// not take: counted out of the queue, those bytes let a client that reads nothing hold twice
// the hard cap, and the rule skip room lines later than --max-queue says. Only what is still
// queued can be skipped.
type waiting conn

func (c *conn) waiting() *waiting { return (*waiting)(c) }

// Size returns the bytes waiting for the client. c.mu must be held.
func (w *waiting) Size() int { return w.out.size + int(w.held) }

// SkipOldest skips lines still queued (connpolicy.Queue). c.mu must be held.
func (w *waiting) SkipOldest(need int, kind connpolicy.Kind, b *connpolicy.Backlog) int {
	return w.out.SkipOldest(need, kind, b)
}

// takeLocked moves up to max blocks of c's queue to dst for a writer, after the notices of
// what was skipped that are due (connpolicy.Backlog.Due), and returns dst and how many bytes it
// moved. c.mu must be held.
func (c *conn) takeLocked(dst []*chunk, max int) ([]*chunk, int) {
	n := 0
	if c.backlog.Pending() {
		enc := c.srv.enc
		if p := c.notices.Load(); p != nil {
			enc = *p
		}
		for _, m := range c.backlog.Due(c.out.size == 0) {
			dst, n = appendBytes(dst, n, m.Encoded(enc))
		}
	}
	dst, k := c.out.take(dst, max)
	c.backlog.Taken(c.out.size)
	return dst, n + k
}

// appendBytes appends b to dst in new blocks, and returns dst and n plus the bytes appended.
func appendBytes(dst []*chunk, n int, b []byte) ([]*chunk, int) {
	for len(b) > 0 {
		ch := chunks.Get().(*chunk)
		ch.n = copy(ch.b[:], b)
		b = b[ch.n:]
		n += ch.n
		dst = append(dst, ch)
	}
	return dst, n
}

// pendingLocked reports whether c has output for a writer. c.mu must be held.
func (c *conn) pendingLocked() bool {
	return c.out.size > 0 || c.backlog.Pending()
}

// abortOutput drops the chat lines queued for c, as telnet's Abort Output asks, without a
// notice: the client asked for it.
func (c *conn) abortOutput() {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines, _ := c.out.skipOldest(c.out.size, kindRoom)
	c.queuedMsgs = max(c.queuedMsgs-lines, 0)
}

// scheduleLocked marks c for its flusher after output was queued, unless a flush or a writer
// will find that output anyway. It reports whether the caller must add c to the flusher's
// list. c.mu must be held.
func (c *conn) scheduleLocked() bool {
	if c.writer == writerOwn || c.flushQueued {
		return false
	}
	if c.raw == nil {
		c.startWriterLocked()
		return false
	}
	c.flushQueued = true
	return true
}

// startWriterLocked starts the writer of c's own, which sends what is queued (and, once c is
// draining and nothing is left, ends c's output). c.mu must be held, and c must have none.
func (c *conn) startWriterLocked() {
	c.writer = writerOwn
	go c.writeLoop(nil)
}

// The line transport's flushers (package flush) hold a flood back per connection: a
// connection whose last flush carried busyLines lines or more gets lines faster than the
// flusher comes round (a paced conversation, even a loud one, brings a line or two per flush),
// and waits busyHold before its next. busyHold is short beside what a flood queues anyway (a
// flooded connection's lines wait for those queued before them), and long enough for a writev
// to carry a few hundred lines rather than a few dozen at full speed: the syscall and the
// loopback's per-segment work, not the bytes, are what a writev costs.
const (
	busyLines = 32
	busyHold  = 2 * time.Millisecond
)

// flushPolicy is when the line transport's flushers hold connections back.
var flushPolicy = flush.Policy{BusyMsgs: busyLines, BusyHold: busyHold}

// flusher is one of the server's flushers.
type flusher = flush.Flusher[flushScratch]

// flushScratch is a flusher's working memory, lent to each flush.
type flushScratch struct {
	batch  []*chunk
	iovecs [][]byte
	writer flush.Writer
}

// FlushState is c's record in its flusher (flush.Conn).
func (c *conn) FlushState() *flush.State { return &c.fs }

// writerBlocks is how many blocks a writer of a connection's own takes at a time
// (connpolicy.Limits.WriterBatch): what it has taken can no longer be skipped, so it takes
// little, leaving the rest to skip should the client fall further behind.
func (s *Server) writerBlocks() int { return max(s.cfg.WriterBatch()/chunkSize, 1) }

// Flush writes what c has queued without waiting for the socket, and returns how many messages
// it took (flush.Conn). What the socket does not take is handed to a writer of c's own, which
// waits for the socket.
func (c *conn) Flush(f *flushScratch) (msgs int) {
	defer func() {
		if r := recover(); r != nil {
			c.writePanicked(r, false)
		}
	}()
	c.mu.Lock()
	c.flushQueued = false
	if c.state == stateClosed || c.writer == writerOwn {
		c.mu.Unlock()
		return 0
	}
	if !c.pendingLocked() {
		if c.state == stateDraining {
			c.nc.CloseWrite()
		}
		c.mu.Unlock()
		return 0
	}
	msgs = c.queuedMsgs
	c.queuedMsgs = 0
	var queued int
	f.batch, queued = c.takeLocked(f.batch[:0], flush.MaxIovecs)
	capped := c.out.size > 0 // more was queued than one writev takes
	queued += c.out.size
	c.writer = writerFlushing
	c.mu.Unlock()

	f.iovecs = f.iovecs[:0]
	for _, ch := range f.batch {
		f.iovecs = append(f.iovecs, ch.b[ch.off:ch.n])
	}
	written, err := f.writer.Writev(c.raw, f.iovecs)
	clear(f.iovecs)
	rest := consume(f.batch, written)
	c.srv.obs.Wrote(msgs, written, queued)

	c.mu.Lock()
	c.writer = writerIdle
	relist := false
	switch {
	case err != nil:
		putChunks(rest)
		c.goneLocked()
	case len(rest) > 0:
		// The socket is full: a writer of c's own waits for it. (What came while we wrote has
		// put c back on the list; that flush will find the writer and leave c to it.)
		if c.state == stateClosed {
			putChunks(rest)
		} else {
			c.writer = writerOwn
			c.held = int32(unwritten(rest))
			go c.writeLoop(slices.Clone(rest))
		}
	case c.pendingLocked():
		// More was queued than one writev takes, or came while we wrote. The rest of a
		// backlog goes on at once, as the writev would have taken it all if it could.
		if capped {
			c.fs.MarkUrgent()
		}
		relist = c.scheduleLocked()
	case c.state == stateDraining:
		c.nc.CloseWrite() // everything is sent
	}
	c.mu.Unlock()
	clear(f.batch)
	if relist {
		c.flusher.Add(c)
	}
	return msgs
}

// consume returns the chunks to the pool that n written bytes used up, and returns the rest,
// the first of them advanced past what was written of it.
func consume(batch []*chunk, n int) []*chunk {
	for i, ch := range batch {
		if left := ch.n - ch.off; n < left {
			ch.off += n
			putChunks(batch[:i])
			return batch[i:]
		} else {
			n -= left
		}
	}
	putChunks(batch)
	return nil
}

// unwritten returns the bytes of batch not yet written.
func unwritten(batch []*chunk) int {
	n := 0
	for _, ch := range batch {
		n += ch.n - ch.off
	}
	return n
}

// writeScratch is a writer's working memory, pooled because writers come and go.
type writeScratch struct {
	batch []*chunk
	bufs  [][]byte
	// stream keeps a TLS connection's write deadline moving (its timer is made once and
	// reused by every writer that takes this scratch).
	stream flush.StreamWriter
}

var writeScratches = sync.Pool{New: func() any { return new(writeScratch) }}

// writeLoop sends pending, then everything queued, waiting for the socket, until the queue is
// empty. It runs only while a connection's socket is full. It takes the queue a little at a
// time, so that what waits can still be skipped if the client falls further behind.
func (c *conn) writeLoop(pending []*chunk) {
	scratch := writeScratches.Get().(*writeScratch)
	batch, bufs := append(scratch.batch[:0], pending...), scratch.bufs[:0]
	defer func() {
		putChunks(batch)
		clear(bufs[:cap(bufs)])
		scratch.batch, scratch.bufs = batch[:0], bufs[:0]
		writeScratches.Put(scratch)
	}()
	defer func() {
		if r := recover(); r != nil {
			c.writePanicked(r, true)
		}
	}()
	msgs, queued := 0, 0
	for {
		if len(batch) == 0 {
			c.mu.Lock()
			if c.state == stateClosed || !c.pendingLocked() {
				if c.state == stateDraining {
					if c.raw == nil {
						// A stream's end is a write (TLS close_notify) that may wait: not
						// under c.mu. Draining, c takes no more output meanwhile.
						c.mu.Unlock()
						c.closeStream()
						c.mu.Lock()
					} else {
						c.nc.CloseWrite()
					}
				}
				// The flushers' writes must not find the deadline of ours, long past by then:
				// a write past its deadline fails before it is tried.
				c.nc.SetWriteDeadline(time.Time{})
				c.out.reset()
				c.held = 0
				c.writer = writerIdle
				c.writerDone.Broadcast()
				c.mu.Unlock()
				return
			}
			msgs = c.queuedMsgs
			c.queuedMsgs = 0
			batch, queued = c.takeLocked(batch[:0], c.srv.writerBlocks())
			c.held = int32(queued)
			queued += c.out.size
			c.mu.Unlock()
		}
		bufs = bufs[:0]
		for _, ch := range batch {
			bufs = append(bufs, ch.b[ch.off:ch.n])
		}
		written, err := c.writeSome(&scratch.stream, bufs)
		clear(bufs)
		c.srv.obs.Wrote(msgs, written, queued)
		msgs, queued = 0, 0
		rest := consume(batch, written)
		n := copy(batch, rest)
		clear(batch[n:])
		batch = batch[:n]
		if err != nil {
			c.mu.Lock()
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.closeLocked(connpolicy.ReasonWriteTimeout)
			} else {
				c.goneLocked()
			}
			c.held = 0
			c.mu.Unlock()
			putChunks(batch)
			batch = batch[:0]
		} else if written > 0 {
			c.mu.Lock()
			c.held = int32(unwritten(batch))
			c.mu.Unlock()
		}
	}
}

// writeSome writes bufs with one writev, waiting for the socket to take something if it is
// full. The wait ends about WriteTimeout after the last byte the client took
// (flush.WritevWaitDrained): what the deadline measures is a client that takes nothing, not
// one that takes a large backlog slowly.
func (c *conn) writeSome(stream *flush.StreamWriter, bufs [][]byte) (int, error) {
	if c.raw == nil {
		return stream.Write(c.nc, bufs, c.srv.cfg.WriteTimeout)
	}
	return flush.WritevWaitDrained(c.nc, c.raw, bufs, c.srv.cfg.WriteTimeout)
}

// closeStream ends what c sends over a stream (TLS: close_notify), and then the socket's side
// too, so that a client that waits for the connection to end sees it. It runs on c's writer,
// under no lock.
func (c *conn) closeStream() {
	c.nc.SetWriteDeadline(c.srv.cfg.WriteDeadline(time.Now()))
	c.nc.CloseWrite()
	if s, ok := c.sock.(interface{ CloseWrite() error }); ok && c.sock != net.Conn(c.nc) {
		s.CloseWrite()
	}
}

// writePanicked closes c after a panic while writing to it, logging the stack; fromWriter says
// that c's own writer goroutine panicked and is ending.
func (c *conn) writePanicked(r any, fromWriter bool) {
	c.srv.log.Error("panic writing to connection", "remote", c.nc.RemoteAddr().String(),
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(connpolicy.ReasonPanic)
	if fromWriter {
		c.writer = writerIdle
		c.writerDone.Broadcast()
	}
}
