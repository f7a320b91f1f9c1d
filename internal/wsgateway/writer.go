package wsgateway

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"hubbub/internal/connpolicy"
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

// maxFlushFrames bounds the frames one writev hands the kernel, below its limit of 1024
// iovecs (a notice or two may come first).
const maxFlushFrames = 1000

// maxFlushBytes bounds the bytes one flush takes from a connection.
const maxFlushBytes = 1 << 20

// scheduleLocked has c's output written: by the flusher, unless a writer will find it anyway.
// c.mu must be held.
func (c *conn) scheduleLocked() {
	if c.closed || c.writer == writerOwn || c.flushQueued {
		return
	}
	if c.raw == nil {
		if c.writer == writerIdle {
			c.startWriterLocked(nil)
		}
		return
	}
	c.flushQueued = true
	c.flusher.add(c)
}

// startWriterLocked starts c's writer of its own, which writes pending first. c.mu must be
// held, and c must have none.
func (c *conn) startWriterLocked(pending [][]byte) {
	c.writer = writerOwn
	c.writers.Go(func() { c.writeLoop(pending) })
}

// flusher writes the output of the connections on its list.
//
// Under light load a connection is flushed as soon as it has output. Under a storm (a pass over
// a thousand connections or more that took longer than 5 ms: a join storm sends every member a
// frame per join) each connection is held back from its next flush for three times the pass,
// so that what arrives meanwhile goes out in one writev instead of one each: the cost of a
// storm is the system calls, not the bytes. Output that answers a client's own input, a
// connection's first output and its end are never held.
type flusher struct {
	mu      sync.Mutex
	list    []*conn // connections with output to write; guarded by mu
	stop    bool    // guarded by mu
	wake    chan struct{}
	stopped chan struct{}

	// Used only by the flusher's goroutine.
	epoch  time.Time     // conn.flushedAt counts from here
	hold   time.Duration // how long a connection waits after a flush before the next
	held   []*conn       // connections waiting out their hold
	batch  [][]byte
	iovecs [][]byte
}

func newFlusher() *flusher {
	return &flusher{wake: make(chan struct{}, 1), stopped: make(chan struct{}), epoch: time.Now()}
}

// add puts c on the list. It takes only the flusher's lock, under c.mu (lock order: conn.mu →
// flusher.mu).
func (f *flusher) add(c *conn) {
	f.mu.Lock()
	f.list = append(f.list, c)
	first := len(f.list) == 1
	f.mu.Unlock()
	if first {
		f.nudge()
	}
}

// nudge has the flusher look at its list and its held connections again.
func (f *flusher) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// stormPass is how long a pass over stormConns connections or more must take for the flusher
// to hold connections back.
const (
	stormPass  = 5 * time.Millisecond
	stormConns = 1000
)

// run flushes connections until close is called.
func (f *flusher) run() {
	defer close(f.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var todo, ready []*conn
	for {
		f.mu.Lock()
		todo, f.list = f.list, todo[:0]
		stop := f.stop
		f.mu.Unlock()

		now := time.Since(f.epoch)
		ready = ready[:0]
		still := f.held[:0]
		for _, c := range append(f.held, todo...) {
			if !stop && c.flushedAt != 0 && now < c.flushedAt+f.hold && !c.urgent.Load() {
				still = append(still, c)
			} else {
				ready = append(ready, c)
			}
		}
		clear(todo)
		f.held = still

		if len(ready) == 0 {
			if stop && len(f.held) == 0 {
				return
			}
			if len(f.held) == 0 {
				<-f.wake
				continue
			}
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
			continue
		}
		start := time.Since(f.epoch)
		for i, c := range ready {
			c.urgent.Store(false)
			f.flush(c)
			c.flushedAt = start
			ready[i] = nil
		}
		// A short pass (users registering among the held) says nothing of the load on the
		// held ones: only a long pass, or none held, sets the hold.
		switch pass := time.Since(f.epoch) - start; {
		case pass > stormPass && len(ready) >= stormConns:
			f.hold = 3 * pass
		case len(f.held) == 0:
			f.hold = 0
		}
	}
}

// close stops the flusher once its list is empty, and waits for it.
func (f *flusher) close() {
	f.mu.Lock()
	f.stop = true
	f.mu.Unlock()
	f.nudge()
	<-f.stopped
}

// flush writes what c has queued without waiting for the socket; what the socket does not
// take goes to a writer of c's own, which waits for it.
func (f *flusher) flush(c *conn) {
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
		return
	}
	var msgs int
	f.batch, msgs = c.takeLocked(f.batch[:0], maxFlushBytes, maxFlushFrames)
	c.queuedMsgs = 0
	queued := c.out.size
	c.writer = writerFlushing
	c.mu.Unlock()

	f.iovecs = append(f.iovecs[:0], f.batch...)
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
	written = max(written, 0)
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
		c.closeNowLocked(connpolicy.ReasonWriteError)
	case len(rest) > 0:
		// The socket is full: a writer of c's own waits for it.
		c.startWriterLocked(slices.Clone(rest))
	case c.pendingLocked():
		c.scheduleLocked()
	case c.closeQueued:
		c.drainedLocked()
	}
	c.mu.Unlock()
	clear(f.batch)
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

// writeLoop writes pending, then what is queued, waiting for the socket, until the queue is
// empty. It takes the queue a little at a time (connpolicy.Limits.WriterBatch), so that what
// waits can still be skipped if the client falls further behind.
func (c *conn) writeLoop(pending [][]byte) {
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
	for {
		if len(batch) == 0 {
			c.mu.Lock()
			if c.closed || !c.pendingLocked() {
				c.writer = writerIdle
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
			batch, msgs = c.takeLocked(batch[:0], c.srv.cfg.WriterBatch(), maxFlushFrames)
			c.queuedMsgs = 0
			queued = c.out.size
			c.mu.Unlock()
		}
		n, err := c.writeAll(batch)
		c.srv.obs.Wrote(msgs, n, queued)
		c.mu.Lock()
		if msgs > 0 && n > 0 {
			c.written++
		}
		c.mu.Unlock()
		batch = batch[:0]
		if err != nil {
			reason := connpolicy.ReasonWriteError
			if errors.Is(err, os.ErrDeadlineExceeded) {
				reason = connpolicy.ReasonWriteTimeout
			}
			c.mu.Lock()
			c.writer = writerIdle
			c.closeNowLocked(reason)
			c.mu.Unlock()
			return
		}
	}
}

// streamBufSize is how much a writer hands a stream (TLS) at a time: one full TLS record.
const streamBufSize = 16 << 10

// streamBufs lends writers of streams the buffer they gather frames in, only while they write.
var streamBufs = sync.Pool{New: func() any { return new([streamBufSize]byte) }}

// writeAll writes bufs, waiting for the socket. Each write may take as long as the client
// keeps taking data: it fails only when no byte went out for WriteTimeout. A deadline on the
// whole write would drop a reader that is slow but alive; none at all would keep a dead one.
func (c *conn) writeAll(bufs [][]byte) (int, error) {
	written := 0
	for len(bufs) > 0 {
		var n int
		var err error
		if c.raw != nil {
			if err := c.sock.SetWriteDeadline(c.srv.cfg.WriteDeadline(time.Now())); err != nil {
				return written, fmt.Errorf("set write deadline: %w", err)
			}
			var werr error
			err = c.raw.Write(func(fd uintptr) bool {
				n, werr = unix.Writev(int(fd), bufs)
				return werr != unix.EAGAIN && werr != unix.EINTR // else wait until the socket takes more
			})
			if err == nil {
				err = werr
			}
			n = max(n, 0)
			bufs = cut(bufs, n)
		} else {
			// One record of many frames, not a record each.
			buf := streamBufs.Get().(*[streamBufSize]byte)
			k := 0
			for len(bufs) > 0 && k < streamBufSize {
				m := copy(buf[k:], bufs[0])
				k += m
				if bufs[0] = bufs[0][m:]; len(bufs[0]) == 0 {
					bufs = bufs[1:]
				}
			}
			n, err = c.writeStream(buf[:k])
			streamBufs.Put(buf)
		}
		written += n
		if err != nil && !(n > 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.raw != nil) {
			return written, err
		}
		// Some bytes went out before the deadline: the client is reading, give it more time.
	}
	return written, nil
}

// writeStream writes b to a stream, giving a client that keeps taking data more time.
func (c *conn) writeStream(b []byte) (int, error) {
	written := 0
	for {
		if err := c.sock.SetWriteDeadline(c.srv.cfg.WriteDeadline(time.Now())); err != nil {
			return written, fmt.Errorf("set write deadline: %w", err)
		}
		n, err := c.sock.Write(b[written:])
		written += n
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return written, err
		}
	}
}
