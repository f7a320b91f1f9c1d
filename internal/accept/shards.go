package accept

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Shards is a listener made of several sockets bound to one address with SO_REUSEPORT: the
// kernel spreads new connections over them, and a Loop accepts on each with a goroutine of its
// own, so that the accepts of a service whose connections live for milliseconds (quote) run on
// every core instead of queueing behind one goroutine. Only processes of the same user can bind
// a socket to a port held with SO_REUSEPORT (Linux checks the effective UID).
//
// Accept, for servers other than Loop, takes connections from every socket through one
// goroutine per socket, started at the first call.
type Shards struct {
	lns []net.Listener

	once   sync.Once
	conns  chan acceptResult
	closed chan struct{}
	wg     sync.WaitGroup // the goroutines of Accept
	close  sync.Once
	err    error // of Close
}

type acceptResult struct {
	c   net.Conn
	err error
}

// ListenShards binds n sockets (at least one) to address with SO_REUSEPORT through lc. When
// address asks for any port (":0"), every socket gets the port the first one was given.
//
// An address in use is an error, as it is for net.Listen, even when its holder has
// SO_REUSEPORT too (a second hubbub started by mistake would otherwise share the port and get
// half the clients): the address is first bound without SO_REUSEPORT, and the shards take it
// when that socket is closed.
func ListenShards(ctx context.Context, lc net.ListenConfig, network, address string, n int) (*Shards, error) {
	probe, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, err
	}
	address = probe.Addr().String()
	if err := probe.Close(); err != nil {
		return nil, err
	}
	control := lc.Control
	lc.Control = func(network, address string, c syscall.RawConn) error {
		if control != nil {
			if err := control(network, address, c); err != nil {
				return err
			}
		}
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", serr)
		}
		return nil
	}
	s := &Shards{}
	for range max(n, 1) {
		ln, err := lc.Listen(ctx, network, address)
		if err != nil {
			for _, l := range s.lns {
				l.Close()
			}
			return nil, err
		}
		s.lns = append(s.lns, ln)
	}
	return s, nil
}

// Listeners returns the sockets, one accept loop's worth each.
func (s *Shards) Listeners() []net.Listener { return s.lns }

// Addr returns the address every socket is bound to.
func (s *Shards) Addr() net.Addr { return s.lns[0].Addr() }

// Close closes every socket.
func (s *Shards) Close() error {
	s.close.Do(func() {
		var errs []error
		for _, ln := range s.lns {
			errs = append(errs, ln.Close())
		}
		s.err = errors.Join(errs...)
		s.once.Do(func() {}) // no Accept goroutine starts after Close
		if s.closed != nil {
			close(s.closed)
			s.wg.Wait()
		}
	})
	return s.err
}

// Accept returns a connection from any socket.
func (s *Shards) Accept() (net.Conn, error) {
	s.once.Do(func() {
		s.conns = make(chan acceptResult)
		s.closed = make(chan struct{})
		for _, ln := range s.lns {
			s.wg.Go(func() {
				for {
					c, err := ln.Accept()
					select {
					case s.conns <- acceptResult{c, err}:
					case <-s.closed:
						if c != nil {
							c.Close()
						}
						return
					}
					if errors.Is(err, net.ErrClosed) {
						return
					}
				}
			})
		}
	})
	if s.conns == nil {
		return nil, net.ErrClosed
	}
	select {
	case r := <-s.conns:
		return r.c, r.err
	case <-s.closed:
		return nil, net.ErrClosed
	}
}
