package lineproto

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// How output reaches the socket.
//
// A broadcast appends to each member's queue (write) and puts the member on a flusher's list if
// it is not there already. A flusher is one goroutine serving many connections: it takes a
// connection's whole queue and hands it to the kernel with one non-blocking writev. While a
// flusher works through its list, more output piles up in the queues behind it, so the busier
// the server, the more lines each writev carries: a join storm or a flood of lines costs a
// syscall per connection per pass, not per line. Only when a socket is full (its client reads
// slowly) does the connection get a writer goroutine of its own, which waits for the socket
// with --write-timeout as its deadline and gives the connection back to the flushers once it
// has caught up. Idle connections have no writer at all.

// write queues b. A client whose queue would pass MaxQueue is dropped as a slow consumer: it
// cannot be allowed to hold up anyone else.
func (c *conn) write(b []byte) {
	c.mu.Lock()
	if c.sealed {
		c.mu.Unlock()
		return
	}
	if c.out.size+len(b) > c.srv.cfg.MaxQueue {
		c.closeLocked(reasonSlowConsumer)
		c.mu.Unlock()
		return
	}
	c.out.write(b)
	c.queuedMsgs++
	kick := c.scheduleLocked()
	c.mu.Unlock()
	if kick {
		c.flusher.add(c)
	}
}

// scheduleLocked marks c for its flusher after output was queued, unless a flush or a writer
// will find that output anyway. It reports whether the caller must add c to the flusher's
// list. c.mu must be held.
func (c *conn) scheduleLocked() bool {
	if c.writing || c.flushQueued {
		return false
	}
	c.flushQueued = true
	return true
}

// flusher writes the output of the connections on its list.
//
// Under light load a connection is flushed as soon as it has output. Under a storm (see
// holdAfterPass) each connection is held back from its next flush for a while, so that what
// arrives meanwhile goes out in one writev instead of several: when thousands of users each get
// a line per join, the cost is the syscalls, not the bytes. Output that answers the client's
// own input, and a connection's first output, is never held, so that a user registering or
// typing a command keeps the pace of a conversation however loud the room is.
type flusher struct {
	mu      sync.Mutex
	list    []*conn // connections with output to write; guarded by mu
	stop    bool    // guarded by mu
	wake    chan struct{}
	stopped chan struct{}

	holdFor func(pass time.Duration, n int) time.Duration // holdAfterPass, or a test's

	// Used only by the flusher's goroutine.
	epoch  time.Time     // flushedAt of connections counts from here
	hold   time.Duration // how long a connection waits after its flush before the next
	held   []*conn       // connections waiting out their hold
	batch  []*chunk
	iovecs [][]byte
}

// holdAfterPass is how long the flusher holds back the connections of a pass that took pass
// over n connections. A pass is long when it takes more than 5 ms over at least 1000
// connections; a short list that took long was preempted, and holding it back would only add
// latency. Holding for three times the pass lets the flusher spend a quarter of its time in
// writev under a storm, with four times the lines in each.
func holdAfterPass(pass time.Duration, n int) time.Duration {
	if pass > 5*time.Millisecond && n >= 1000 {
		return 3 * pass
	}
	return 0
}

func newFlusher() *flusher {
	return &flusher{
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		holdFor: holdAfterPass,
		epoch:   time.Now(),
	}
}

func (f *flusher) add(c *conn) {
	f.mu.Lock()
	f.list = append(f.list, c)
	first := len(f.list) == 1
	f.mu.Unlock()
	if first {
		f.nudge()
	}
}

// nudge has the flusher look at its connections again.
func (f *flusher) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run flushes connections until close is called.
func (f *flusher) run() {
	defer close(f.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var todo, ready, still []*conn
	for {
		f.mu.Lock()
		todo, f.list = f.list, todo[:0]
		stop := f.stop
		f.mu.Unlock()

		now := time.Since(f.epoch)
		ready, still = ready[:0], still[:0]
		pending := append(f.held, todo...)
		for _, c := range pending {
			if !stop && c.flushedAt != 0 && now < c.flushedAt+f.hold && !c.urgent.Load() {
				still = append(still, c)
			} else {
				ready = append(ready, c)
			}
		}
		clear(pending)
		clear(todo)
		f.held, still = still, pending[:0]

		if len(ready) == 0 {
			if stop && len(f.held) == 0 {
				return
			}
			if len(f.held) > 0 {
				next := f.held[0].flushedAt
				for _, c := range f.held[1:] {
					next = min(next, c.flushedAt)
				}
				timer.Reset(next + f.hold - now)
				select {
				case <-f.wake:
				case <-timer.C:
				}
				timer.Stop()
			} else {
				<-f.wake
			}
			continue
		}
		start := time.Since(f.epoch)
		for i, c := range ready {
			c.urgent.Store(false)
			f.flush(c)
			c.flushedAt = start
			ready[i] = nil
		}
		// A short pass of connections that were not held (users registering) says nothing
		// about the load on the held ones, so only a long pass or an empty hold list sets it.
		switch hold := f.holdFor(time.Since(f.epoch)-start, len(ready)); {
		case hold > 0:
			f.hold = hold
		case len(f.held) == 0:
			f.hold = 0
		}
	}
}

// close stops the flusher once everything on its list is written, and waits for it.
func (f *flusher) close() {
	f.mu.Lock()
	f.stop = true
	f.mu.Unlock()
	f.nudge()
	<-f.stopped
}

// flush writes what c has queued without waiting for the socket. What the socket does not take
// goes back to the front of the queue, and c gets a writer of its own to wait for the socket.
func (f *flusher) flush(c *conn) {
	defer func() {
		if r := recover(); r != nil {
			c.writePanicked(r, false)
		}
	}()
	c.mu.Lock()
	c.flushQueued = false
	if c.closed || c.writing {
		c.mu.Unlock()
		return
	}
	if c.out.size == 0 {
		if c.draining {
			c.nc.CloseWrite()
		}
		c.mu.Unlock()
		return
	}
	queued, msgs := c.out.size, c.queuedMsgs
	c.queuedMsgs = 0
	f.batch = c.out.take(f.batch[:0])
	c.flushing = true
	c.mu.Unlock()

	f.iovecs = f.iovecs[:0]
	for _, ch := range f.batch {
		f.iovecs = append(f.iovecs, ch.b[ch.off:ch.n])
	}
	var written int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		written, werr = unix.Writev(int(fd), f.iovecs)
		return true // never wait for the socket here
	})
	clear(f.iovecs)
	if err == nil && werr != nil && werr != unix.EAGAIN && werr != unix.EINTR {
		err = werr
	}
	rest := consume(f.batch, max(written, 0))
	c.srv.obs.Wrote(msgs, max(written, 0), queued)

	c.mu.Lock()
	c.flushing = false
	switch {
	case err != nil:
		putChunks(rest)
		c.closeLocked(reasonWriteError)
	case len(rest) > 0:
		// The socket is full: let a writer of c's own wait for it. (What came while we wrote
		// has put c back on the list; that flush will find the writer and leave c to it.)
		c.out.prepend(rest)
		if !c.closed && !c.writing {
			c.writing = true
			go c.writeLoop()
		}
	case c.draining && c.out.size == 0:
		// Everything is sent. (What came while we wrote put c back on the list, and that
		// flush closes our side.)
		c.nc.CloseWrite()
	}
	c.mu.Unlock()
	clear(f.batch)
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

// writeScratch is a writer's working memory, pooled because writers come and go.
type writeScratch struct {
	batch []*chunk
	bufs  net.Buffers
}

var writeScratches = sync.Pool{New: func() any { return new(writeScratch) }}

// writeLoop sends everything queued with blocking writes, until the queue is empty. It runs
// only while a connection's socket is full.
func (c *conn) writeLoop() {
	scratch := writeScratches.Get().(*writeScratch)
	batch, bufs := scratch.batch[:0], scratch.bufs[:0]
	defer func() {
		clear(bufs[:cap(bufs)])
		scratch.batch, scratch.bufs = batch[:0], bufs[:0]
		writeScratches.Put(scratch)
	}()
	defer func() {
		if r := recover(); r != nil {
			c.writePanicked(r, true)
		}
	}()
	for {
		c.mu.Lock()
		if c.closed || c.out.size == 0 {
			if c.draining && !c.closed {
				c.nc.CloseWrite()
			}
			c.out.reset()
			c.writing = false
			c.writerIdle.Broadcast()
			c.mu.Unlock()
			return
		}
		queued, msgs := c.out.size, c.queuedMsgs
		c.queuedMsgs = 0
		batch = c.out.take(batch[:0])
		c.mu.Unlock()

		bufs = bufs[:0]
		for _, ch := range batch {
			bufs = append(bufs, ch.b[ch.off:ch.n])
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
		pending := bufs // WriteTo consumes its receiver; keep bufs for reuse
		written, err := pending.WriteTo(c.nc)
		c.srv.obs.Wrote(msgs, int(written), queued)
		putChunks(batch)
		if err != nil {
			reason := reasonWriteError
			if errors.Is(err, os.ErrDeadlineExceeded) {
				reason = reasonWriteTimeout
			}
			c.mu.Lock()
			c.closeLocked(reason)
			c.mu.Unlock()
		}
	}
}

// writePanicked closes c after a panic while writing to it, logging the stack; fromWriter says
// that c's own writer goroutine panicked and is ending.
func (c *conn) writePanicked(r any, fromWriter bool) {
	c.srv.log.Error("panic writing to connection", "remote", c.nc.RemoteAddr().String(),
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(reasonPanic)
	if fromWriter {
		c.writing = false
		c.writerIdle.Broadcast()
	}
}
