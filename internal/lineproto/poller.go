//go:build linux

package lineproto

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// How an idle TCP connection waits without a goroutine.
//
// A goroutine blocked in a read costs its stack (4–8 KB once the chat's registration has grown
// it) for as long as the client says nothing, which for most chat users is most of the time.
// So a TCP connection has a goroutine only while it has input: a worker (pump) reads what the
// socket holds and hands it to the chat; when the socket has had nothing more for activeGrace
// (waited for on the runtime's netpoller, as a read loop would: a client that talks keeps its
// worker), it parks the connection in the server's poller and returns. The poller is one epoll instance of our
// own in which each parked socket is armed once (EPOLLONESHOT); one goroutine waits on it, and
// for each socket that becomes readable starts a new worker, which reads until EAGAIN and
// parks the connection again, re-arming it.
//
// The epoll instance is itself waited for through the runtime's netpoller (it is readable
// when one of its sockets is), so the poller's goroutine holds no thread while it waits, and
// closing the instance wakes it.
//
// What must reach a parked connection without input reaches it through wake: a deadline's
// timer (registration, IRC's ping, finish's linger; see conn.setDeadlineLocked) and closing the
// socket (closeLocked) each start a worker, which finds what happened and acts on it as the
// read loop acted on a failed read. A connection is run by one worker at a time: whoever
// takes it out of parked (conn.claim) runs it.
//
// The epoll event names the connection by an id, never by its descriptor: a socket is
// removed from the epoll instance when it is closed, and its number may be reused by the next
// connection at once, so an event already taken for the old one must find nothing.

// pollBatch is how many readiness events the poller takes per wait.
const pollBatch = 256

// poller waits for the readability of parked connections.
type poller struct {
	log       *slog.Logger
	closing   chan struct{} // closed by close
	closeOnce sync.Once
	ep        *os.File        // the epoll instance, waited for through the runtime's netpoller
	rc        syscall.RawConn // ep's descriptor, held open while in use
	stopped   chan struct{}

	mu     sync.Mutex
	conns  map[uint64]*conn // parked or running connections by id; guarded by mu
	nextID uint64           // guarded by mu
}

func newPoller(log *slog.Logger) (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("set epoll non-blocking: %w", err)
	}
	ep := os.NewFile(uintptr(fd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	return &poller{
		log:     log,
		closing: make(chan struct{}),
		ep:      ep,
		rc:      rc,
		stopped: make(chan struct{}),
		conns:   make(map[uint64]*conn),
	}, nil
}

// add gives c an id; events for it find it until forget.
func (p *poller) add(c *conn) {
	p.mu.Lock()
	p.nextID++
	c.pollID = p.nextID
	p.conns[c.pollID] = c
	p.mu.Unlock()
}

// forget drops c: an event still to come for its id finds nothing.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
}

// arm has the poller wake c once its socket is readable (or closed, or failed): add says it
// is not in the epoll instance yet. It must be called by c's worker, after marking c parked,
// and touches nothing of c but its immutable fields: c may be running on another worker as
// soon as it is armed. It fails when the socket is closed.
func (p *poller) arm(c *conn, add bool) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(uint32(c.pollID)),
		Pad:    int32(uint32(c.pollID >> 32)),
	}
	op := unix.EPOLL_CTL_MOD
	if add {
		op = unix.EPOLL_CTL_ADD
	}
	var cerr error
	// Control holds the socket's descriptor open while it runs: it cannot be closed, and its
	// number reused, under us.
	if err := c.raw.Control(func(fd uintptr) {
		cerr = p.ctl(op, int(fd), &ev)
		// Two workers may arm c in either order around its first park (a deadline or a close
		// claims it between armed and the first ADD): the other operation then does it.
		switch {
		case op == unix.EPOLL_CTL_MOD && errors.Is(cerr, unix.ENOENT):
			cerr = p.ctl(unix.EPOLL_CTL_ADD, int(fd), &ev)
		case op == unix.EPOLL_CTL_ADD && errors.Is(cerr, unix.EEXIST):
			cerr = p.ctl(unix.EPOLL_CTL_MOD, int(fd), &ev)
		}
	}); err != nil {
		return err
	}
	return cerr
}

func (p *poller) ctl(op, fd int, ev *unix.EpollEvent) error {
	var cerr error
	if err := p.rc.Control(func(epfd uintptr) { cerr = unix.EpollCtl(int(epfd), op, fd, ev) }); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("epoll_ctl: %w", cerr)
	}
	return nil
}

// run waits for readable sockets and starts a worker for each, until close.
func (p *poller) run() {
	defer close(p.stopped)
	events := make([]unix.EpollEvent, pollBatch)
	var ready []*conn
	for {
		n := 0
		var werr error
		err := p.rc.Read(func(epfd uintptr) bool {
			// Nothing ready: the runtime waits for the instance to become readable.
			n, werr = unix.EpollWait(int(epfd), events, 0)
			return n != 0 || werr != nil
		})
		if err != nil {
			return // closed
		}
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			// Only a bad descriptor or buffer, neither of which can be: parked connections
			// stay parked until Shutdown closes them, rather than the loop spinning.
			p.log.Error("idle connections are no longer read", "err", fmt.Errorf("epoll_wait: %w", werr))
			<-p.closing
			return
		}
		ready = ready[:0]
		p.mu.Lock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if c := p.conns[id]; c != nil {
				ready = append(ready, c)
			}
		}
		p.mu.Unlock()
		for i, c := range ready {
			if c.claim() {
				go c.pump()
			}
			ready[i] = nil
		}
	}
}

// close stops the poller's goroutine and waits for it. The poller must have no connection.
// It may be called more than once.
func (p *poller) close() {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.ep.Close() // wakes run's wait
	})
	<-p.stopped
}
