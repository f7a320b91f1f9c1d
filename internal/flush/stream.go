package flush

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// StreamWriter writes to a stream that is not a kernel socket (TLS) and whose Write blocks
// until it has taken everything, each record under a deadline that is moved on for as long as
// the kernel socket under the stream goes on sending: a client is dropped only when its socket
// takes nothing for the timeout, as WritevWaitDrained keeps it on a kernel socket.
//
// A stream cannot be kept that way after the fact: once a TLS write has passed its deadline
// the stream is broken for good. So while a write is blocked a timer looks at the socket every
// eighth of the timeout (drainWatch), and each time the client acknowledged more bytes since
// the last look, moves the deadline on; the first look of a record only takes the count,
// which a record's deadline of a quarter more than the timeout makes up for: a client that
// takes nothing is past its deadline between one and one and a quarter timeouts after its
// last byte. (With its unsent
// bytes bounded, accept.LimitUnsent, a 16 KB record waits for about as much to drain: with a
// deadline from the write's start, a reader slower than 1.6 KB/s at a 10 s timeout was
// dropped while it read.)
//
// One StreamWriter serves a connection's writes for as long as its writer runs: its timer and
// the socket found under the stream are kept from one write to the next, so a write that does
// not wait costs a timer's Reset and Stop, not a new timer and a system call. It must not be
// copied once used.
type StreamWriter struct{ w drainWatch }

// Write writes bufs to nc (WriteStream), under the deadline the StreamWriter keeps moving, of
// timeout (none if 0).
func (s *StreamWriter) Write(nc net.Conn, bufs [][]byte, timeout time.Duration) (int, error) {
	if timeout <= 0 {
		return WriteStream(bufs, func(b []byte) (int, error) {
			if err := nc.SetWriteDeadline(time.Time{}); err != nil {
				return 0, fmt.Errorf("set write deadline: %w", err)
			}
			return nc.Write(b)
		})
	}
	defer s.w.stop()
	return WriteStream(bufs, func(b []byte) (int, error) {
		s.w.arm(nc, nil, timeout, false)
		if err := nc.SetWriteDeadline(time.Now().Add(timeout + 2*lookPeriod(timeout))); err != nil {
			return 0, fmt.Errorf("set write deadline: %w", err)
		}
		return nc.Write(b)
	})
}

// drainWatch moves the write deadline of a connection on while its socket drains, from a
// timer of its own, for one write at a time: arm starts its looks, stop ends them.
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

// lookEvery is how often a blocked write's socket is looked at, as a part of the timeout. A
// look that sees the client took bytes sets the deadline a timeout and a period from then:
// the look came up to a period after the byte, and the next look must come before the
// deadline. So a client is dropped between one timeout and one and two periods after its last
// byte.
const lookEvery = 8

func (w *drainWatch) period() time.Duration { return lookPeriod(w.timeout) }

func lookPeriod(timeout time.Duration) time.Duration { return max(timeout/lookEvery, time.Millisecond) }

// arm has the timer look at the socket of nc soon, for a write under a deadline of timeout.
// With baseline, what the client acknowledged so far is taken as the first look, so what it
// takes from then on counts (a system call: for a write known to wait); without, the first
// look only takes the count.
// raw is nc's socket if the caller knows it, or nil.
func (w *drainWatch) arm(nc Deadliner, raw syscall.RawConn, timeout time.Duration, baseline bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.nc != nc || raw != nil {
		w.nc, w.raw = nc, raw
	}
	w.timeout, w.done, w.looked = timeout, false, false
	if w.raw == nil {
		if c, ok := nc.(net.Conn); ok {
			w.raw = socketOf(c)
		}
	}
	if baseline && w.raw != nil {
		w.acked, w.looked = bytesAcked(w.raw)
	}
	if w.timer == nil {
		w.timer = time.AfterFunc(w.period(), w.look)
	} else {
		w.timer.Reset(w.period())
	}
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
		w.nc.SetWriteDeadline(time.Now().Add(w.timeout + w.period()))
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
