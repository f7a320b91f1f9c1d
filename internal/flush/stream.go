package flush

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// WriteStreamDrained is WriteStream to nc, a stream that is not a kernel socket (TLS) and
// whose Write blocks until it has taken everything, each write under a deadline of timeout
// from its start (none if timeout is 0) that is moved on for as long as the kernel socket
// under nc goes on sending: a client is dropped only when its socket takes nothing for
// timeout, as WritevWaitDrained keeps it on a kernel socket.
//
// A stream cannot be kept that way after the fact: once a TLS write has passed its deadline
// the stream is broken for good. So while a write is blocked a timer looks at the socket every
// quarter of timeout, and each time the client acknowledged more bytes since the last look (or
// since the write began), sets the deadline timeout from then; a client that takes nothing is
// past its deadline between one and one and a quarter timeouts after its last byte. (With its
// unsent bytes bounded, accept.LimitUnsent, a 16 KB record waits for about as much to drain:
// with a deadline from the write's start, a reader slower than 1.6 KB/s at a 10 s timeout was
// dropped while it read.) The looks are the only cost of a write that waits, and a write that
// does not is done before the first.
func WriteStreamDrained(nc net.Conn, bufs [][]byte, timeout time.Duration) (int, error) {
	if timeout <= 0 {
		return WriteStream(bufs, func(b []byte) (int, error) {
			if err := nc.SetWriteDeadline(time.Time{}); err != nil {
				return 0, fmt.Errorf("set write deadline: %w", err)
			}
			return nc.Write(b)
		})
	}
	w := &drainWatch{nc: nc, timeout: timeout}
	defer w.stop()
	return WriteStream(bufs, func(b []byte) (int, error) {
		if err := nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
			return 0, fmt.Errorf("set write deadline: %w", err)
		}
		w.arm()
		return nc.Write(b)
	})
}

// drainWatch moves the write deadline of a connection on while its socket drains, from a
// timer of its own; the write that made it stops it.
type drainWatch struct {
	nc      Deadliner
	timeout time.Duration

	mu     sync.Mutex
	timer  *time.Timer     // the next look; guarded by mu
	raw    syscall.RawConn // the socket of nc, given or found when armed; guarded by mu
	acked  uint64          // what the client had acknowledged at the last look; guarded by mu
	looked bool            // acked holds a look; guarded by mu
	done   bool            // the write ended: no more looks; guarded by mu
}

// lookEvery is how often a blocked write's socket is looked at, as a part of the timeout: a
// client whose last byte went out just after a look is dropped at most this much later than
// timeout after it.
const lookEvery = 4

func (w *drainWatch) period() time.Duration { return max(w.timeout/lookEvery, time.Millisecond) }

// arm has the timer look at the socket soon, unless it will anyway, and takes what the
// client acknowledged so far as the first look: what it takes from then on counts.
func (w *drainWatch) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		return
	}
	if w.raw == nil {
		if nc, ok := w.nc.(net.Conn); ok {
			w.raw = socketOf(nc)
		}
	}
	if w.raw != nil {
		w.acked, w.looked = bytesAcked(w.raw)
	}
	w.timer = time.AfterFunc(w.period(), w.look)
}

// look moves the deadline on if the client took bytes since the last look, and has the timer
// look again; where the socket's count cannot be read (not Linux, no socket under the stream)
// the deadline stays as the write set it.
func (w *drainWatch) look() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.raw == nil {
		return
	}
	acked, ok := bytesAcked(w.raw)
	if !ok {
		return
	}
	if w.looked && acked > w.acked {
		// The write may be past this deadline by the time it is set (a look late on a loaded
		// machine): then it has failed, and the stop that follows ends the looks.
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	w.acked, w.looked = acked, true
	w.timer.Reset(w.period())
}

// stop ends the looks: the write is done, and whatever deadline the caller sets next must not
// be moved by a look of this one.
func (w *drainWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// socketOf returns the kernel socket under nc (a stream over a stream over ... a socket, each
// saying what it is over with NetConn), or nil.
func socketOf(nc net.Conn) syscall.RawConn {
	for {
		if sc, ok := nc.(syscall.Conn); ok {
			raw, err := sc.SyscallConn()
			if err != nil {
				return nil
			}
			return raw
		}
		o, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = o.NetConn()
	}
}
