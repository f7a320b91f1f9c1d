package flush

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxIovecs bounds the buffers one writev hands the kernel, below its limit of 1024 (a
// transport may add a few notices, or the end of a line, to what it takes up to this).
const MaxIovecs = 1000

// A Writer hands buffers to sockets with writev through their RawConn without allocating: a
// closure over the buffers and the results, made for each call, escapes to the heap (RawConn
// is an interface), and was what the server allocated most at a paced conversation, 60 bytes
// a delivery: a collection every 300 ms, each with a millisecond's pause. A flusher keeps one;
// its zero value is ready, and it must not be copied once used (its function is bound to it).
type Writer struct {
	bufs [][]byte
	wait bool // for the socket to take something
	n    int
	err  error
	fn   func(fd uintptr) bool // do, bound once
}

// Writev hands bufs to socket raw with one writev, without waiting: it returns how many bytes
// the socket took; a full socket is no error.
func (w *Writer) Writev(raw syscall.RawConn, bufs [][]byte) (int, error) {
	return w.call(raw, bufs, false)
}

// WritevWait hands bufs to socket raw with one writev, waiting for the socket to take
// something if it is full, until the socket's write deadline (the caller's to set).
func (w *Writer) WritevWait(raw syscall.RawConn, bufs [][]byte) (int, error) {
	return w.call(raw, bufs, true)
}

func (w *Writer) call(raw syscall.RawConn, bufs [][]byte, wait bool) (int, error) {
	if w.fn == nil {
		w.fn = w.do
	}
	w.bufs, w.wait, w.n, w.err = bufs, wait, 0, nil // raw.Write may fail without calling fn
	err := raw.Write(w.fn)
	n, werr := w.n, w.err
	w.bufs, w.err = nil, nil
	// Without waiting, a full socket is no error; waiting, raw.Write returns only once the
	// writev did not meet one, or with the deadline's error.
	if err == nil && werr != nil && (wait || werr != unix.EAGAIN && werr != unix.EINTR) {
		err = werr
	}
	return max(n, 0), err
}

func (w *Writer) do(fd uintptr) bool {
	w.n, w.err = writev(int(fd), w.bufs)
	return !w.wait || w.err != unix.EAGAIN && w.err != unix.EINTR // else wait until the socket takes more
}

// WritevWait is Writer.WritevWait for a writer of a connection's own (a slow reader's), which
// writes seldom enough not to keep a Writer.
func WritevWait(raw syscall.RawConn, bufs [][]byte) (int, error) {
	var w Writer
	return w.WritevWait(raw, bufs)
}

// streamBufSize is how much a writer hands a stream (TLS) at a time: one full TLS record.
const streamBufSize = 16 << 10

// streamBufs lends writers of streams the buffer they gather output in, only while they write.
var streamBufs = sync.Pool{New: func() any { return new([streamBufSize]byte) }}

// WriteStream writes bufs to a stream that is not a kernel socket (TLS) and has no writev: it
// gathers them into writes of up to one TLS record each, handed to write, rather than writing
// each buffer (as net.Buffers.WriteTo would): a record and a syscall per line or frame would
// cost TLS several times the bytes and the calls. It returns the bytes written, and stops at
// write's first error. The elements of bufs are consumed.
func WriteStream(bufs [][]byte, write func([]byte) (int, error)) (int, error) {
	buf := streamBufs.Get().(*[streamBufSize]byte)
	defer streamBufs.Put(buf)
	written := 0
	for len(bufs) > 0 {
		n := 0
		for len(bufs) > 0 && n < len(buf) {
			k := copy(buf[n:], bufs[0])
			n += k
			if bufs[0] = bufs[0][k:]; len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
		k, err := write(buf[:n])
		written += k
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// WritevWaitDrained hands bufs to socket raw with one writev, waiting for the socket to take
// something if it is full, under a write deadline on nc (the connection raw is the socket of)
// of timeout (none if 0) that is moved on for as long as the client goes on taking bytes: a
// client is dropped about timeout after the last byte it took, and only then.
//
// A deadline from the write's start alone would drop a slow reader that reads: a socket shows
// writable only once its send buffer is a third empty, and Linux grows that buffer to
// megabytes, so a reader taking 8 KB/s could keep a full one from showing writable for minutes
// while reading all along (found by the tryout). Set again whenever the kernel had sent
// something by the time it passed, it let a client that took its last byte just after a write
// began keep its socket for two timeouts. So while the write waits, a timer looks at what the
// client acknowledged every eighth of timeout and moves the deadline on when it took more
// (drainWatch): a client that takes nothing is past its deadline between one and one and a
// quarter timeouts after its last byte. A writev the socket takes at once starts no timer.
func WritevWaitDrained(nc Deadliner, raw syscall.RawConn, bufs [][]byte, timeout time.Duration) (int, error) {
	// Set before any writev: a write past the deadline left by the last one fails untried.
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout + lookPeriod(timeout))
	}
	if err := nc.SetWriteDeadline(deadline); err != nil {
		return 0, fmt.Errorf("set write deadline: %w", err)
	}
	var w Writer
	if n, err := w.Writev(raw, bufs); n > 0 || err != nil {
		return n, err
	}
	if timeout > 0 {
		d := new(drainWatch)
		d.arm(nc, raw, timeout, true)
		defer d.stop()
	}
	return w.WritevWait(raw, bufs)
}

// Deadliner is a connection whose writes have a deadline.
type Deadliner interface {
	SetWriteDeadline(t time.Time) error
}
