package lineproto

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

var (
	noticeHere      = &chat.Message{Kind: chat.KindNotice, Text: "yes, the server is here"} // the answer to telnet's AYT
	wontEchoLineEnd = []byte{iac, wont, optEcho, '\r', '\n'}
)

// connState is where a connection is in its life. It only moves forward.
type connState uint8

const (
	stateOpen     connState = iota // output is taken
	stateDraining                  // sealed: no more output is taken; our side closes once what is queued is sent
	stateClosed                    // the socket is closed; what was queued is dropped
)

// writerState says who is writing a connection's output, if anyone.
type writerState uint8

const (
	writerIdle     writerState = iota // nobody: output goes to the flusher (see flushQueued)
	writerFlushing                    // a flusher is writing output it took from the queue
	writerOwn                         // a writer goroutine of the connection's own waits for a full socket
)

// readBufSize is the size of the buffer a connection borrows for one read.
const readBufSize = 4096

// reader is a read buffer and what reads into it from a socket without blocking. A
// connection borrows one only while it has bytes to read, so an idle connection holds none.
type reader struct {
	buf   [readBufSize]byte
	n     int
	errno error
	read  func(fd uintptr)      // r.readFd, bound once so that reading allocates nothing
	await func(fd uintptr) bool // r.readOrWait, likewise
}

var readers = sync.Pool{New: func() any {
	r := new(reader)
	r.read, r.await = r.readFd, r.readOrWait
	return r
}}

// readFd reads what socket fd holds now into r.buf (for syscall.RawConn.Control).
func (r *reader) readFd(fd uintptr) {
	r.n, r.errno = unix.Read(int(fd), r.buf[:])
}

// readOrWait reads what socket fd holds into r.buf, or has syscall.RawConn.Read wait for it.
func (r *reader) readOrWait(fd uintptr) bool {
	r.readFd(fd)
	return r.errno != unix.EAGAIN
}

// waitReadable waits for readability without a buffer, for syscall.RawConn.Read: it peeks one
// byte into the stack; readable (or closed, or failed) means a read will not block.
func waitReadable(fd uintptr) bool {
	var b [1]byte
	_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err != unix.EAGAIN
}

// errWouldBlock: the socket has nothing to read now.
var errWouldBlock = errors.New("nothing to read")

// streamConn is what the engine serves: a TCP socket, or a stream over one (TLS) that can say
// it has nothing more to send.
type streamConn interface {
	net.Conn
	CloseWrite() error
}

// overSocket is a stream over a socket (*tls.Conn, and types that embed one), which can be
// cut at once by closing the socket, whatever the stream is doing.
type overSocket interface{ NetConn() net.Conn }

// handshaker is a stream that has something to settle before its first byte (TLS).
type handshaker interface{ Handshake() error }

// conn is one line client. A TCP connection reads on workers that exist only while its socket
// has input, and waits in the server's poller meanwhile (pump; see poller.go); any other
// stream has its read loop (serve) on the goroutine the accept loop gave it. Its writer runs on
// a goroutine of its own that exists only while there is output to send.
//
// A TCP connection is served on its kernel socket (raw): it is read without blocking, and the
// flushers write with non-blocking writev. Any other stream (TLS) has raw nil: it may hold
// decrypted bytes while its socket shows nothing, and its writes block, so the read loop reads
// it with blocking Reads and all its output goes through the writer of its own (see
// scheduleLocked), never a shared flusher.
type conn struct {
	// What queueing a line touches comes first, in the first 64 bytes of the struct (a conn is
	// allocated 64-byte aligned, in the 512-byte size class): a broadcast's sequencer passes
	// from goroutine to goroutine, so each delivery finds the conn last written by the other
	// core, and pays a cache miss per line of it that it writes.
	//
	// The one-byte fields are packed together, and the struct kept at 512 bytes at most:
	// 8 bytes more would put every connection in the 576-byte size class.
	mu          sync.Mutex
	state       connState   // guarded by mu
	writer      writerState // guarded by mu
	flushQueued bool        // c is on its flusher's list (whatever writer is); guarded by mu
	// reason is why the connection ends; guarded by mu. Set once, at the end: it only fills
	// what would be padding here.
	reason connpolicy.CloseReason
	// held is the bytes the writer of c's own took from out and has not written yet (see
	// waiting); guarded by mu. An int32 fills what would be padding: it is at most what one
	// flush takes.
	held       int32
	queuedMsgs int      // messages queued since the last write, for metrics; guarded by mu
	out        outQueue // output not yet written; guarded by mu

	srv     *Server
	nc      streamConn
	sock    net.Conn        // the socket under nc (nc itself for TCP): closing it cuts nc at once
	raw     syscall.RawConn // the kernel socket of a TCP connection; nil for another stream
	started time.Time
	session Session
	done    chan struct{} // closed when the socket is closed; stops waits

	// Set before the connection is first read, then read-only.
	pollID  uint64 // the connection's name in the poller's events
	release func() // gives the connection back to the accept loop once it ended (pumped only)
	pumped  bool   // read by workers, parked in the poller between reads (pump); else by serve

	// Used only by the read loop, or by the worker that runs the connection.
	registered bool // the session is past its registration
	pinged     bool // a ping is unanswered: the next deadline closes the connection
	armed      bool // the socket is in the poller's epoll instance
	// talking: input came after the registration, so more may follow soon; the worker waits
	// activeGrace for it before it parks (readActive).
	talking bool
	// handshakeFailed: the stream never got going (a failed TLS handshake, counted by the
	// listener): nothing to log or count as a chat connection.
	handshakeFailed bool
	dec             Decoder
	graceUntil      time.Time // the read deadline of readActive

	parked  atomic.Bool // waiting in the poller with no worker: whoever clears it runs the connection
	expired atomic.Bool // the deadline's timer fired: a worker must look at the deadline

	bucket connpolicy.Bucket // the line rate; used only by the read loop

	flusher *flusher    // writes this connection's output while the socket takes it; nil without raw
	fs      flush.State // its flusher's record of it

	// A password is being typed: the server offered to echo (chat.KindSecretPrompt). Set by
	// Deliver, read by the read loop, which it runs in: an atomic so that the race detector
	// need not know that.
	hiding  atomic.Bool
	echoOff atomic.Bool // the client agreed and shows nothing of what is typed
	// echoShown: a password was typed and the client never agreed to hide it; it is nc, or a
	// telnet that refuses, and is told from then on that the password will show.
	echoShown atomic.Bool
	// notices, when set (Conn.SetNotices), renders the notices the engine says of its own
	// on this connection in place of the framing's Encoder.
	notices atomic.Pointer[chat.Encoder]

	writerDone sync.Cond          // signalled when the writer of its own exits; uses mu
	backlog    connpolicy.Backlog // what was skipped for a slow reader; guarded by mu
	deadline   time.Time          // when waiting for input ends, zero for never (pumped only); guarded by mu
	timer      *time.Timer        // fires at deadline (pumped only); guarded by mu
}

// newStreamConn returns a connection over a stream that is not a TCP socket (TLS).
func newStreamConn(srv *Server, nc net.Conn) (*conn, error) {
	sc, ok := nc.(streamConn)
	if !ok {
		return nil, fmt.Errorf("a %T cannot say it is done sending (no CloseWrite)", nc)
	}
	c := &conn{
		srv:     srv,
		nc:      sc,
		sock:    nc,
		started: time.Now(),
		done:    make(chan struct{}),
		bucket:  connpolicy.NewBucket(srv.cfg),
	}
	if o, ok := nc.(overSocket); ok {
		c.sock = o.NetConn()
	}
	c.writerDone.L = &c.mu
	return c, nil
}

func newConn(srv *Server, nc *net.TCPConn, f *flusher) (*conn, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw conn: %w", err)
	}
	c := &conn{
		srv:     srv,
		nc:      nc,
		sock:    nc,
		flusher: f,
		raw:     raw,
		started: time.Now(),
		done:    make(chan struct{}),
		bucket:  connpolicy.NewBucket(srv.cfg),
	}
	c.writerDone.L = &c.mu
	c.pumped = srv.poller != nil
	// telnet's "toggle autosynch" sends IAC DM as urgent data after Ctrl-C; kept in line, it
	// is a telnet command the Decoder skips, where out of line it would leave a stray byte.
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1)
	}); err != nil || serr != nil {
		return nil, fmt.Errorf("set SO_OOBINLINE: %w", errors.Join(err, serr))
	}
	return c, nil
}

// Deliver queues m for the client (chat.Client). It never blocks.
func (c *conn) Deliver(m *chat.Message) {
	b := m.Encoded(c.srv.enc)
	switch m.Kind {
	case chat.KindSecretPrompt:
		if c.echoShown.Load() {
			// The last password showed as typed: the client did not agree to hide it (nc
			// never answers), so it will show again: say so, and spare it the telnet bytes.
			q, colon := strings.CutSuffix(m.Text, ":")
			b = fmt.Appendf(nil, "*** %s (it will show as you type)", q)
			if colon {
				b = append(b, ':')
			}
			b = append(b, '\r', '\n')
			break
		}
		c.hiding.Store(true)
	case chat.KindSecretDone:
		if !c.hiding.Swap(false) {
			return
		}
		if c.echoOff.Swap(false) {
			// The client showed nothing of the line, not even its end: the next output
			// would follow the prompt on its line.
			b = wontEchoLineEnd
		} else {
			c.echoShown.Store(true)
		}
	}
	if len(b) == 0 {
		return
	}
	c.queueAs(m, b)
}

// queueAs queues b, the bytes m is rendered as, under the slow-reader rule for m's kind.
func (c *conn) queueAs(m *chat.Message, b []byte) {
	switch kind, from, kept := connpolicy.KindOf(m); kind {
	case connpolicy.KindPrivate:
		c.writePrivate(b, privateLine{from: from, kept: kept})
	default:
		c.write(b, kind)
	}
}

// Drop ends the connection after what is queued is sent (chat.Client): a kick or a ban.
func (c *conn) Drop(reason chat.DropReason, _ string) {
	c.finish(connpolicy.FromDrop(reason), nil)
}

// remoteAddr returns the client's address, as the chat sees it.
func remoteAddr(nc net.Conn) netip.Addr {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// finish ends the connection gracefully: it queues notice (if any) as the last output, sends
// what is queued, closes our side, and waits a little for the client to close its side.
func (c *conn) finish(reason connpolicy.CloseReason, notice []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	if c.reason == connpolicy.ReasonNone {
		c.reason = reason
	}
	if notice != nil {
		c.out.write(notice, connpolicy.KindKept)
	}
	c.state = stateDraining
	switch {
	case c.pendingLocked():
		// Whoever writes the rest closes our side once the queue is empty. A connection on
		// its way out is not held back for a storm: the linger deadline is running.
		if c.scheduleLocked() {
			c.fs.MarkUrgent()
			c.flusher.Add(c)
		} else if c.flusher != nil {
			c.flusher.Hurry(c)
		}
	case c.writer == writerIdle && !c.flushQueued:
		// Nothing queued, nothing in flight.
		if c.raw == nil {
			c.startWriterLocked() // a stream's end (TLS close_notify) is a write that may wait
		} else {
			c.nc.CloseWrite()
		}
	}
	c.setDeadlineLocked(time.Now().Add(lingerTimeout))
}

// closeLocked closes the socket at once, dropping what is queued. c.mu must be held.
func (c *conn) closeLocked(reason connpolicy.CloseReason) {
	if c.reason == connpolicy.ReasonNone {
		c.reason = reason
	}
	c.state = stateClosed
	c.out.reset()
	if c.isClosed() {
		return
	}
	// The socket, not the stream over it: closing a TLS stream would first send it a
	// close_notify, a write that may wait, under c.mu; what was queued is dropped anyway.
	c.sock.Close()
	close(c.done)
	c.wake() // a parked connection has nobody reading to find its socket closed
}

// goneLocked is closeLocked for a client that writing to failed: it went, most often with a
// reset (it closed its socket with output unread). What it sent before it went is still in the
// socket, and is what its user wrote: the output is dropped, but the socket is left to its
// reader, which reads and says the rest, at the line rate, for as long as a paste may take
// (connpolicy.Limits.GoneLinger); then the socket is closed, which ends the reader's waits
// (c.done) and the connection. A connection the server was already sending away (finish) is
// closed at once: what the client still sends is ignored. c.mu must be held.
func (c *conn) goneLocked() {
	if c.state != stateOpen {
		c.closeLocked(connpolicy.ReasonWriteError)
		return
	}
	if c.reason == connpolicy.ReasonNone {
		c.reason = connpolicy.ReasonWriteError
	}
	c.state = stateClosed
	c.out.reset()
	time.AfterFunc(c.srv.cfg.GoneLinger(lingerTimeout), func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.closeLocked(connpolicy.ReasonWriteError)
	})
	c.wake() // a parked connection's socket may show nothing more to read
}

// endGone closes c if its client went (goneLocked) and what it sent is still being said: the
// server is going away, and a paste said at the line rate would hold its shutdown up for as
// long as the paste may take, cutting everyone else short.
func (c *conn) endGone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed && !c.isClosed() {
		c.closeLocked(connpolicy.ReasonWriteError)
	}
}

// ignoresInput reports whether what the client still sends is ignored: the connection is
// closing, and not because the client went (goneLocked).
func (c *conn) ignoresInput() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		return false
	}
	gone := c.state == stateClosed && c.reason == connpolicy.ReasonWriteError && !c.isClosed() // goneLocked: the socket is still the reader's
	return !gone
}

// isClosed reports whether the socket was closed (closeLocked).
func (c *conn) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// setDeadlineLocked sets when waiting for input ends (a registration, a ping, finish's
// linger; zero: never): the read deadline of a connection read by serve, a timer that wakes a
// pumped one. c.mu must be held.
func (c *conn) setDeadlineLocked(t time.Time) {
	if !c.pumped {
		c.nc.SetReadDeadline(t)
		return
	}
	c.deadline = t
	if t.IsZero() {
		if c.timer != nil {
			// A call already on its way finds the deadline gone (deadlinePassed).
			c.timer.Stop()
			c.timer = nil
		}
		return
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(time.Until(t), c.deadlineFired)
	} else {
		c.timer.Reset(time.Until(t))
	}
}

// deadlineFired runs on the deadline's timer: the worker acts on it.
func (c *conn) deadlineFired() {
	c.expired.Store(true)
	if !c.claim() {
		// A worker runs c; should it be waiting for input (readActive), it stops, parks,
		// and finds the deadline.
		c.nc.SetReadDeadline(time.Unix(1, 0))
		return
	}
	go c.pump()
}

// deadlinePassed reports whether the deadline is set and passed (a timer that fired for a
// deadline since moved or lifted says nothing).
func (c *conn) deadlinePassed() bool {
	c.mu.Lock()
	d := c.deadline
	c.mu.Unlock()
	return !d.IsZero() && !time.Now().Before(d)
}

// claim takes c out of the poller for the caller to run; false: it is not parked (a worker
// runs it, and will find what the caller had to say).
func (c *conn) claim() bool { return c.parked.CompareAndSwap(true, false) }

// wake starts a worker for c if it is parked.
func (c *conn) wake() {
	if c.claim() {
		go c.pump()
	}
}

// isSealed reports whether the connection takes no more output: it is closing.
func (c *conn) isSealed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state != stateOpen
}

// serve runs the read loop of a connection that is not pumped until it ends, then cleans up.
func (c *conn) serve() {
	defer c.cleanup()
	defer c.recoverPanic()
	if h, ok := c.nc.(handshaker); ok && c.raw == nil {
		// Bounded by the stream (tlsconf.Conn has a handshake timeout), and by finish's
		// linger should the server shut down meanwhile.
		if h.Handshake() != nil {
			c.handshakeFailed = true
			return
		}
	}
	if !c.begin() {
		return
	}
	for {
		// A stream (raw nil) is read with a blocking Read: TLS may hold decrypted bytes
		// while its socket shows nothing to wait for.
		if c.raw != nil {
			if err := c.raw.Read(waitReadable); err != nil {
				if c.readErr(err) {
					return
				}
				continue
			}
		}
		r := readers.Get().(*reader)
		n, err := c.nc.Read(r.buf[:])
		if n > 0 {
			c.handleInput(c.dec, r.buf[:n])
			c.answered()
		}
		c.dec.Release()
		readers.Put(r)
		c.afterRead(n)
		if err != nil && c.readErr(err) {
			return
		}
	}
}

// recoverPanic, deferred, logs a panic of the read loop or a worker and closes the connection.
func (c *conn) recoverPanic() {
	r := recover()
	if r == nil {
		return
	}
	name := ""
	if c.session != nil {
		name = c.session.Name()
	}
	c.srv.log.Error("panic serving connection", "remote", c.nc.RemoteAddr().String(),
		"name", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	c.mu.Lock()
	c.closeLocked(connpolicy.ReasonPanic)
	c.mu.Unlock()
}

// begin starts the connection's session and its registration deadline, and reports whether
// there is a connection to read.
func (c *conn) begin() bool {
	if f := c.srv.framing.NewSession; f != nil {
		s, err := f(&Conn{c})
		if err != nil {
			c.srv.log.Error("start a session", "service", c.srv.framing.Service, "err", err)
			return false
		}
		c.session = s
	} else {
		s, err := c.srv.hub.Connect(c, chat.Peer{Addr: remoteAddr(c.nc)})
		c.session = s
		if err != nil {
			c.finish(connpolicy.ReasonBanned, nil) // the chat said why
		}
	}
	if d := c.srv.cfg.RegisterDeadline(c.started); !d.IsZero() {
		c.setReadDeadline(d)
	}
	c.dec = c.srv.framing.NewDecoder(c.srv.cfg.MaxLine)
	return true
}

// startPumped runs a pumped connection's first turn on the accept loop's goroutine: its
// session starts, what it has sent is read, and it parks (see pump).
func (c *conn) startPumped() {
	ended := true
	defer c.endIf(&ended)
	defer c.recoverPanic()
	if !c.begin() {
		return
	}
	ended = c.work()
}

// pump runs a pumped connection on a worker of its own, started by whoever took it out of the
// poller (claim): it reads until the socket has nothing more, then parks the connection, or
// cleans up once it ended.
func (c *conn) pump() {
	ended := true
	defer c.endIf(&ended)
	defer c.recoverPanic()
	ended = c.work()
}

// work reads and handles what the socket holds, and acts on a deadline that passed, until the
// socket has nothing more: then it parks c and returns false, and c belongs to whoever claims
// it. It returns true when the connection has ended.
func (c *conn) work() bool {
	for {
		if c.expired.Swap(false) && c.deadlinePassed() && c.readErr(os.ErrDeadlineExceeded) {
			return true
		}
		r := readers.Get().(*reader)
		n, err := c.readActive(r)
		if err == errWouldBlock {
			readers.Put(r)
			if !c.park() {
				continue
			}
			return false
		}
		if n > 0 {
			c.handleInput(c.dec, r.buf[:n])
			c.answered()
		}
		c.dec.Release()
		readers.Put(r)
		c.afterRead(n)
		if err != nil && c.readErr(err) {
			return true
		}
	}
}

// readNow reads what the socket holds into r without waiting: errWouldBlock when it holds
// nothing, io.EOF once the client closed its side. readActive is the read that waits.
func (c *conn) readNow(r *reader) (int, error) {
	// Control holds the descriptor open while it reads: it cannot be closed, and its
	// number reused, under the read. (Not RawConn.Read: its read deadline is readActive's.)
	if err := c.raw.Control(r.read); err != nil {
		return 0, err
	}
	return c.result(r)
}

// result is what the read into r says: bytes, errWouldBlock, io.EOF or an error.
func (c *conn) result(r *reader) (int, error) {
	switch {
	case r.errno == unix.EAGAIN:
		return 0, errWouldBlock
	case r.errno == unix.EINTR:
		return 0, nil
	case r.errno != nil:
		return 0, os.NewSyscallError("read", r.errno)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// activeGrace is how long a worker waits for more input after the last before it parks its
// connection. A client that talks (a sender in a busy room, a paced bot) keeps its worker and
// waits on the runtime's netpoller, as a read loop would, rather than paying for a park and a
// new worker per line; one that falls silent for longer holds no goroutine.
//
// A client that has said nothing since its registration has no grace: most users read far
// more than they say, and in a join storm thousands of workers lingering after each
// registration (each goroutine's stack grown by the registration, each goroutine's
// descriptor kept by the runtime for good) cost more than the second park of each.
const activeGrace = 500 * time.Millisecond

// readActive reads what the socket holds into r, waiting for it on the runtime's netpoller for
// up to activeGrace since the client's last input (not at all before it talked: see
// activeGrace): errWouldBlock means the grace is over, or
// the connection's deadline passed (deadlineFired cuts the wait), and the caller parks c.
func (c *conn) readActive(r *reader) (int, error) {
	if !c.talking {
		return c.readNow(r)
	}
	if now := time.Now(); c.graceUntil.Sub(now) < activeGrace/2 {
		// Moved only when half used up: a busy sender does not move a timer per line.
		c.graceUntil = now.Add(activeGrace)
		c.nc.SetReadDeadline(c.graceUntil)
	}
	if c.expired.Load() {
		// Set before the wait's deadline was: nothing would cut the wait.
		return c.readNow(r)
	}
	if err := c.raw.Read(r.await); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.graceUntil = time.Time{}
			return 0, errWouldBlock
		}
		return 0, err
	}
	return c.result(r)
}

// park leaves c waiting in the poller, and reports whether it did: false means the caller
// took c back (its socket closed, or its deadline passed, as it parked) and must go on running it.
func (c *conn) park() bool {
	add := !c.armed
	c.armed = true // before parked: whoever claims c next must see it
	c.parked.Store(true)
	if err := c.srv.poller.arm(c, add); err != nil {
		// The socket is closed, or cannot be waited for: either way the connection ends, on
		// whichever worker runs it.
		c.mu.Lock()
		c.closeLocked(connpolicy.ReasonReadError)
		c.mu.Unlock()
		return !c.claim()
	}
	// What happened before c was parked found nobody to wake.
	if c.expired.Load() || c.isClosed() {
		return !c.claim()
	}
	return true
}

// endIf, deferred by a worker, ends c if *ended: a panic while it cleans up is logged like one
// of the worker's, and c is given back to the accept loop all the same.
func (c *conn) endIf(ended *bool) {
	if !*ended {
		return
	}
	defer c.recoverPanic()
	c.end()
}

// end cleans up after a pumped connection ended, and gives it back to the accept loop.
func (c *conn) end() {
	defer c.release()
	defer c.srv.forget(c)
	defer c.srv.poller.forget(c)
	c.cleanup()
}

// afterRead notes what a read of n bytes says of the client: past its registration, still
// there (which puts off its ping).
func (c *conn) afterRead(n int) {
	c.talking = c.talking || c.registered && n > 0
	if !c.registered && c.session.Registered() {
		c.registered = true
		c.clearRegisterDeadline()
	}
	if c.registered && n > 0 {
		if every := c.pingEvery(); every > 0 {
			// Whatever the client sends shows it is there, as much as a PONG would.
			c.pinged = false
			c.setReadDeadline(time.Now().Add(every))
		}
	}
}

// pingEvery is how long the client may say nothing before it is pinged; 0: never.
func (c *conn) pingEvery() time.Duration {
	if _, ok := c.session.(Pinger); ok {
		return c.srv.framing.PingInterval
	}
	return 0
}

// readErr acts on a failed read (or wait for one), or a passed deadline, and reports whether
// the connection ends.
func (c *conn) readErr(err error) bool {
	if every := c.pingEvery(); c.registered && every > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.isSealed() {
		if c.pinged {
			c.finish(connpolicy.ReasonPingTimeout, c.srv.noticePingTimeout)
			return false // wait, briefly, for the client to close
		}
		c.pinged = true
		c.session.(Pinger).Ping()
		c.setReadDeadline(time.Now().Add(every))
		return false
	}
	return c.readFailed(err, c.registered)
}

// clearRegisterDeadline lifts the registration deadline, unless the connection is already
// closing (a name and /quit in one read): then the deadline is finish's linger, which must stay.
func (c *conn) clearRegisterDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		c.setDeadlineLocked(time.Time{})
	}
}

// setReadDeadline sets the deadline for input, unless the connection is closing: then the
// deadline is finish's linger, which must stay.
func (c *conn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		c.setDeadlineLocked(t)
	}
}

// readFailed records why a read failed and reports whether the read loop should stop.
func (c *conn) readFailed(err error, registered bool) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) && !registered && !c.isSealed() {
		c.finish(connpolicy.ReasonRegisterTimeout, c.srv.noticeRegisterTimeout)
		return false // wait, briefly, for the client to close
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == connpolicy.ReasonNone {
		if errors.Is(err, io.EOF) {
			c.reason = connpolicy.ReasonClientClosed
		} else {
			c.reason = connpolicy.ReasonReadError
		}
	}
	return true
}

// answered lets what the client's own input produced (a prompt, a reply to a command) skip the
// hold its flusher may put on busy connections, so that talking to the server keeps its pace
// however loud the room is.
func (c *conn) answered() {
	c.mu.Lock()
	queued := c.flushQueued
	c.mu.Unlock()
	if queued {
		c.flusher.Hurry(c)
	}
}

// handleInput passes each complete line in p to the chat, at most LineRate lines a second.
func (c *conn) handleInput(dec Decoder, p []byte) {
	for len(p) > 0 {
		dec.SetHiding(c.hiding.Load())
		n, ev := dec.Decode(p)
		p = p[n:]
		if ev == NeedMore {
			continue
		}
		if c.ignoresInput() {
			return // sent away: what the client still sends is ignored
		}
		switch ev {
		case LineTooLong:
			if !c.srv.framing.QuietTooLong {
				c.write(c.srv.lineTooLong, connpolicy.KindKept)
			}
			c.session.TooLong()
			continue
		case Reply:
			c.write(dec.Reply(), connpolicy.KindKept)
			continue
		case AreYouThere:
			// Answered at the line rate: a stream of AYTs must not become a stream of answers.
			if !c.bucket.Take(c.done, c.session, c.srv.obs) {
				return
			}
			c.write(noticeHere.Encoded(c.srv.enc), connpolicy.KindKept)
			continue
		case AbortOutput:
			c.abortOutput()
			continue
		case EchoOn:
			c.echoOff.Store(true)
			continue
		case EchoOff:
			c.echoOff.Store(false)
			continue
		}
		if !c.bucket.Take(c.done, c.session, c.srv.obs) {
			return
		}
		c.srv.obs.LineReceived()
		if hook := c.srv.testHookLine; hook != nil {
			hook(dec.Line())
		}
		if err := c.session.Handle(dec.Line()); errors.Is(err, chat.ErrQuit) {
			c.session.Close() // others hear of it now, not when the client gets round to closing
			c.finish(connpolicy.ReasonQuit, nil)
			return
		}
	}
}

// cleanup runs when the read loop ends: the member leaves, the writer stops, the socket closes.
func (c *conn) cleanup() {
	if c.session != nil {
		c.session.Close()
	}
	c.mu.Lock()
	c.closeLocked(connpolicy.ReasonClientClosed)
	if c.pumped {
		c.setDeadlineLocked(time.Time{})
	}
	for c.writer == writerOwn {
		c.writerDone.Wait()
	}
	reason := c.reason
	c.mu.Unlock()
	if c.handshakeFailed {
		return // counted by the listener, never logged one by one
	}
	c.srv.obs.Closed(reason)
	name := ""
	if c.session != nil {
		name = c.session.Name()
	}
	c.srv.log.Info("connection closed", "service", c.srv.framing.Service, "remote", c.nc.RemoteAddr().String(),
		"name", name, "duration", time.Since(c.started).Round(time.Millisecond), "reason", reason.String())
}
