package accept

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const testTimeout = 10 * time.Second

// countingListener counts what a socket of the shards accepted.
type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// listenShards opens n shards on 127.0.0.1 whose sockets count their accepts in counts.
func listenShards(t *testing.T, n int) (*Shards, []*atomic.Int64) {
	t.Helper()
	s, err := ListenShards(context.Background(), net.ListenConfig{}, "tcp", "127.0.0.1:0", n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if got := len(s.Listeners()); got != n {
		t.Fatalf("%d sockets, want %d", got, n)
	}
	var counts []*atomic.Int64
	for i, ln := range s.lns {
		if ln.Addr().String() != s.Addr().String() {
			t.Fatalf("socket %d on %s, socket 0 on %s", i, ln.Addr(), s.Addr())
		}
		counts = append(counts, new(atomic.Int64))
		s.lns[i] = countingListener{ln, counts[i]}
	}
	return s, counts
}

// serveLoop serves s with a Loop whose handler says "ok" and then waits for the client to
// close; the test stops it at the end.
func serveLoop(t *testing.T, s net.Listener, limiter *Limiter) *Loop {
	t.Helper()
	loop := New("test", limiter, slog.New(slog.DiscardHandler), func(c net.Conn) {
		c.SetDeadline(time.Now().Add(testTimeout))
		io.WriteString(c, "ok\r\n")
		c.Read(make([]byte, 1))
	})
	served := make(chan error, 1)
	go func() { served <- loop.Serve(s) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := loop.Stop(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return loop
}

// ask connects and returns the first line the server says.
func ask(t *testing.T, addr string) (net.Conn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return c, "error: " + err.Error()
	}
	return c, strings.TrimSuffix(line, "\r\n")
}

// TestShardsServeEveryConnection answers clients through a Loop on four shards: each client
// is served whichever socket the kernel gave it to, and more than one socket took some.
func TestShardsServeEveryConnection(t *testing.T) {
	s, counts := listenShards(t, 4)
	serveLoop(t, s, nil)
	const clients = 200
	var wg sync.WaitGroup
	answers := make([]string, clients)
	for i := range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
			if err != nil {
				answers[i] = err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testTimeout))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				answers[i] = err.Error()
				return
			}
			answers[i] = strings.TrimSuffix(line, "\r\n")
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a != "ok" {
			t.Errorf("client %d: %q, want ok", i, a)
		}
	}
	used := 0
	for _, n := range counts {
		if n.Load() > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("%d of 4 sockets accepted the %d clients; the kernel should spread them", used, clients)
	}
}

// TestShardsClosedOnStop stops a Loop serving shards: every socket is closed, so that no
// client is left waiting in the backlog of one still open: connecting is refused, every time.
func TestShardsClosedOnStop(t *testing.T) {
	s, err := ListenShards(context.Background(), net.ListenConfig{}, "tcp", "127.0.0.1:0", 4)
	if err != nil {
		t.Fatal(err)
	}
	loop := New("test", nil, slog.New(slog.DiscardHandler), func(net.Conn) {})
	served := make(chan error, 1)
	go func() { served <- loop.Serve(s) }()
	c, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// Stop returns once every accept loop has: a socket left open would keep one waiting.
	stopped := make(chan error, 1)
	go func() { stopped <- loop.Stop(ctx) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		for _, ln := range s.Listeners() { // what Stop should have done, so that the test ends
			ln.Close()
		}
		<-stopped
		t.Fatal("Stop still waiting for an accept loop: a socket was left open")
	}
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	for i := range 100 {
		c, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
		if err == nil {
			c.Close()
			t.Fatalf("connection %d after stop was accepted by the kernel: a socket is still open", i)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connection %d after stop: %v, want refused", i, err)
		}
	}
}

// TestPerIPLimitAcrossShards holds connections from one address through four shards: the
// per-address limit counts them all, whichever socket took each.
func TestPerIPLimitAcrossShards(t *testing.T) {
	s, counts := listenShards(t, 4)
	serveLoop(t, s, NewLimiter(Limits{MaxConnsPerIP: 3}, nil))
	var served, refused int
	for range 12 {
		// Each stays open (the handler waits for it to close) and counts against the limit.
		_, answer := ask(t, s.Addr().String())
		switch answer {
		case "ok":
			served++
		case "*** too many connections from your address (max 3)":
			refused++
		default:
			t.Errorf("answer %q", answer)
		}
	}
	if served != 3 || refused != 9 {
		t.Errorf("served %d and refused %d of 12 connections, want 3 and 9", served, refused)
	}
	used := 0
	for _, n := range counts {
		if n.Load() > 0 {
			used++
		}
	}
	if used < 2 {
		t.Logf("only %d socket took the 12 connections; the limit was not tested across sockets", used)
	}
}

// TestListenShardsAddressInUse: an address held by another socket, with SO_REUSEPORT or
// without, is an error, as it is for net.Listen.
func TestListenShardsAddressInUse(t *testing.T) {
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if s, err := ListenShards(context.Background(), net.ListenConfig{}, "tcp", plain.Addr().String(), 2); err == nil {
		s.Close()
		t.Error("shards bound an address a plain listener holds")
	}
	first, err := ListenShards(context.Background(), net.ListenConfig{}, "tcp", "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if s, err := ListenShards(context.Background(), net.ListenConfig{}, "tcp", first.Addr().String(), 2); err == nil {
		s.Close()
		t.Error("a second set of shards bound the address of the first: two servers would share its clients")
	}
}

// TestShardsAccept takes connections from every socket through Accept, as a server other
// than Loop would, and Close ends a waiting Accept.
func TestShardsAccept(t *testing.T) {
	s, counts := listenShards(t, 2)
	const clients = 50
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", s.Addr().String(), testTimeout)
			if err != nil {
				t.Error(err)
				return
			}
			c.Close()
		})
	}
	for i := range clients {
		c, err := s.Accept()
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		c.Close()
	}
	wg.Wait()
	var total int64
	for _, n := range counts {
		total += n.Load()
	}
	if total != clients {
		t.Errorf("sockets accepted %d, want %d", total, clients)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Accept()
		done <- err
	}()
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("accept after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("accept still waiting after close")
	}
}
