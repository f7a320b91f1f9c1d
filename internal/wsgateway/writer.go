package wsgateway

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

// How output reaches the socket, as on the line transport.
//
// Deliver appends a frame to the connection's queue and puts the connection on its flusher's
// list if it is not there already. A flusher is one goroutine serving many connections: it
// takes a connection's queue (up to what one writev takes) and hands it to the kernel with one
// non-blocking writev; while it works through its list more piles up behind it, so the busier
// the room, the more frames each writev carries. Only when a socket is full (its client reads
// slowly) does the connection get a writer goroutine of its own, which takes the queue a
// little at a time (what waits can still be skipped), waits for the socket, gives up only when
// the socket takes nothing for --write-timeout, and leaves the connection to the flusher again
// once it has caught up. A stream that is not a kernel socket (TLS) is always written by a
// writer of its own, which exists only while there is output.

// maxFlushBytes bounds the bytes one flush takes from a connection.
const maxFlushBytes = 1 << 20

// flusher is one of the server's flushers (package flush). It holds connections back only
// under a storm: a frame is an iovec of its own, so a flood's writev is full at 1000 frames
// anyway.
type flusher = flush.Flusher[flushScratch]

// flushScratch is a flusher's working memory, lent to each flush.
type flushScratch struct {
	batch  [][]byte
	blocks []*block // the blocks batch lies in, given back once written
	writer flush.Writer
}

// FlushState is c's record in its flusher (flush.Conn).
func (c *conn) FlushState() *flush.State { return &c.fs }

// scheduleLocked has c's output written: by the flusher, unless a writer will find it anyway.
// c.mu must be held.
func (c *conn) scheduleLocked() {
	if c.closed || c.writer == writerOwn || c.flushQueued {
		return
	}
	if c.raw == nil {
		if c.writer == writerIdle {
			c.startWriterLocked(nil, nil)
		}
		return
	}
	c.flushQueued = true
	c.flusher.Add(c)
}

// startWriterLocked starts c's writer of its own, which writes pending (lying in blks) first.
// c.mu must be held, and c must have none.
func (c *conn) startWriterLocked(pending [][]byte, blks []*block) {
	c.writer = writerOwn
	c.writers.Go(func() { c.writeLoop(pending, blks) })
}

// Flush writes what c has queued without waiting for the socket, and returns how many
// messages it took (flush.Conn); what the socket does not take goes to a writer of c's own,
// which waits for it.
func (c *conn) Flush(f *flushScratch) (msgs int) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("panic writing to connection", "service", "ws", "remote", c.remote,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.closeNow(connpolicy.ReasonPanic)
		}
	}()
	c.mu.Lock()
	c.flushQueued = false
	if c.closed || c.writer != writerIdle || !c.pendingLocked() {
		c.mu.Unlock()
		return 0
	}
	f.batch, f.blocks, msgs = c.takeLocked(f.batch[:0], f.blocks[:0], maxFlushBytes, flush.MaxIovecs)
	c.queuedMsgs = 0
	queued := c.out.size
	c.writer = writerFlushing
	c.mu.Unlock()

	written, err := f.writer.Writev(c.raw, f.batch)
	rest := cut(f.batch, written)
	c.srv.obs.Wrote(msgs, written, queued)

	c.mu.Lock()
	c.writer = writerIdle
	if msgs > 0 && written > 0 {
		c.written++
	}
	switch {
	case c.closed:
	case err != nil:
		c.goneLocked()
	case len(rest) > 0:
		// The socket is full: a writer of c's own waits for it, and gives the blocks back.
		c.out.held = bufsLen(rest)
		c.startWriterLocked(slices.Clone(rest), slices.Clone(f.blocks))
		clear(f.blocks)
		f.blocks = f.blocks[:0]
	case c.pendingLocked():
		c.scheduleLocked()
	case c.closeQueued:
		c.drainedLocked()
	}
	c.mu.Unlock()
	clear(f.batch)
	putBlocks(f.blocks) // none, if a writer took them
	return msgs
}

// cut returns what is left of bufs once n bytes of them are written.
func cut(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}

// bufsLen returns the bytes of bufs.
func bufsLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// writeLoop writes pending (lying in blks), then what is queued, waiting for the socket, until
// the queue is empty. It takes the queue a little at a time (connpolicy.Limits.WriterBatch), so that what
// waits can still be skipped if the client falls further behind.
func (c *conn) writeLoop(pending [][]byte, blks []*block) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("panic writing to connection", "service", "ws", "remote", c.remote,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.mu.Lock()
			c.writer = writerIdle
			c.mu.Unlock()
			c.closeNow(connpolicy.ReasonPanic)
		}
	}()
	batch, msgs, queued := pending, 0, 0
	var stream *flush.StreamWriter // made at the first write over TLS, for this loop's writes
	for {
		if len(batch) == 0 {
			c.mu.Lock()
			if c.closed || !c.pendingLocked() {
				c.writer = writerIdle
				c.out.held = 0
				if c.raw != nil {
					// The flusher's writes must not find our deadline, long past by then.
					c.sock.SetWriteDeadline(time.Time{})
				}
				if !c.closed && c.closeQueued {
					c.drainedLocked()
				}
				c.mu.Unlock()
				return
			}
			batch, blks, msgs = c.takeLocked(batch[:0], blks[:0], c.srv.cfg.WriterBatch(), flush.MaxIovecs)
			c.queuedMsgs = 0
			c.out.held = bufsLen(batch)
			queued = c.out.Size()
			c.mu.Unlock()
		}
		n, err := c.writeAll(&stream, batch)
		putBlocks(blks) // written, or never to be
		c.srv.obs.Wrote(msgs, n, queued)
		c.mu.Lock()
		if msgs > 0 && n > 0 {
			c.written++
		}
		c.out.held = 0 // written, or never to be
		c.mu.Unlock()
		batch = batch[:0]
		if err != nil {
			c.mu.Lock()
			c.writer = writerIdle
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.closeNowLocked(connpolicy.ReasonWriteTimeout)
			} else {
				c.goneLocked()
			}
			c.mu.Unlock()
			return
		}
	}
}

// writeAll writes bufs, waiting for the socket. Each write may take as long as the client
// keeps taking data: it fails only when no byte went out for WriteTimeout. A deadline on the
// whole write would drop a reader that is slow but alive; none at all would keep a dead one.
func (c *conn) writeAll(stream **flush.StreamWriter, bufs [][]byte) (int, error) {
	written := 0
	for len(bufs) > 0 {
		var n int
		var err error
		if c.raw != nil {
			n, err = flush.WritevWaitDrained(c.sock, c.raw, bufs, c.srv.cfg.WriteTimeout)
			bufs = cut(bufs, n)
		} else {
			// One record of many frames, not a record each; a record's deadline moves on while
			// the socket under the stream drains.
			if *stream == nil {
				*stream = new(flush.StreamWriter)
			}
			n, err = (*stream).Write(c.sock, bufs, c.srv.cfg.WriteTimeout)
			bufs = nil
		}
		written += n
		if err != nil {
			// The deadline moved on while the client took bytes: past it, it took none.
			return written, err
		}
		if n > 0 && len(bufs) > 0 {
			c.mu.Lock()
			c.out.held = bufsLen(bufs)
			c.mu.Unlock()
		}
	}
	return written, nil
}
