package wsgateway

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// poller waits for readability of idle connections' sockets with one epoll of its own, so
// that an idle connection holds no goroutine. Each socket is watched for one event at a time
// (EPOLLONESHOT): the goroutine that reads it hands it back with arm when it has read what
// there was. The runtime's own poller has the sockets too (edge-triggered, for the writers'
// waits); a socket may be in both.
type poller struct {
	epfd   int
	wakeFd int // an eventfd: written to stop the loop

	mu      sync.Mutex
	conns   map[int32]*conn // by descriptor; guarded by mu
	nextID  uint32          // guarded by mu
	stop    bool            // guarded by mu
	started bool            // guarded by mu
	done    chan struct{}
}

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &poller{epfd: epfd, wakeFd: wfd, conns: make(map[int32]*conn), done: make(chan struct{})}, nil
}

// watched is what the poller waits for on a socket.
const watched = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

var errPollerStopped = errors.New("the poller is stopped")

// add has the poller watch c's socket, and starts the poller if it was not running.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	if p.stop {
		p.mu.Unlock()
		return errPollerStopped
	}
	if !p.started {
		p.started = true
		go p.run()
	}
	p.nextID++
	c.id = p.nextID
	var fd int32
	var err error
	if cerr := c.raw.Control(func(d uintptr) {
		fd = int32(d)
		p.conns[fd] = c
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(d), &unix.EpollEvent{Events: watched, Fd: fd, Pad: int32(c.id)})
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		delete(p.conns, fd)
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

// arm has the poller watch c's socket again, after its reader read what there was.
func (p *poller) arm(c *conn) error {
	var err error
	if cerr := c.raw.Control(func(d uintptr) {
		err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(d), &unix.EpollEvent{Events: watched, Fd: int32(d), Pad: int32(c.id)})
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("epoll_ctl mod: %w", err)
	}
	return nil
}

// remove forgets c, whose socket is about to be closed.
func (p *poller) remove(c *conn) {
	if c.raw == nil || c.id == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c.raw.Control(func(d uintptr) {
		if p.conns[int32(d)] == c {
			delete(p.conns, int32(d))
			unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(d), nil)
		}
	})
}

// run waits for sockets to be readable and starts a reader for each, until close.
func (p *poller) run() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Nothing to do but stop: the connections' readers end them when they are closed.
			return
		}
		p.mu.Lock()
		stop := p.stop
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wakeFd) {
				continue
			}
			if c := p.conns[ev.Fd]; c != nil && c.id == uint32(ev.Pad) {
				go c.readReady()
			}
		}
		p.mu.Unlock()
		if stop {
			return
		}
	}
}

// close stops the poller and waits for it. Connections still watched are not read any more.
func (p *poller) close() {
	p.mu.Lock()
	p.stop = true
	started := p.started
	p.mu.Unlock()
	if started {
		var one = [8]byte{1}
		unix.Write(p.wakeFd, one[:])
		<-p.done
	}
	unix.Close(p.epfd)
	unix.Close(p.wakeFd)
}
