package flush

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// queueConn is a connection whose queue is a count of messages; a flush takes them all.
type queueConn struct {
	fs      State
	f       *Flusher[int]
	mu      sync.Mutex
	queued  int  // guarded by mu
	listed  bool // on the flusher's list; guarded by mu
	flushed []int
	done    chan struct{} // closed once want messages were flushed
	want    int
	total   int
}

func (c *queueConn) FlushState() *State { return &c.fs }

func (c *queueConn) Flush(scratch *int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	*scratch++
	n := c.queued
	c.queued, c.listed = 0, false
	c.flushed = append(c.flushed, n)
	c.total += n
	if c.total == c.want {
		close(c.done)
	}
	return n
}

func (c *queueConn) queue(n int) {
	c.mu.Lock()
	c.queued += n
	add := !c.listed
	c.listed = true
	c.mu.Unlock()
	if add {
		c.f.Add(c)
	}
}

// A flood held back (a busy connection) is flushed whole in the end, and a connection that
// asked to be hurried is not held; Close waits for what is listed.
func TestFloodHeldThenFlushedWhole(t *testing.T) {
	s := NewSet[int](1, Policy{BusyMsgs: 10, BusyHold: 50 * time.Millisecond})
	s.Start()
	defer s.Close()
	f := s.Next()
	c := &queueConn{f: f, want: 1000, done: make(chan struct{})}
	for range 100 {
		c.queue(10)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("flushed %d of 1000 messages (flushes %v)", c.total, c.flushed)
	}
	if f.scratch == 0 {
		t.Error("no flush was lent the flusher's scratch")
	}
}

// A set closed before it ever started does not wait for flushers that never ran, and a second
// Close does not wait either (a gateway shut down twice with no connection once hung).
func TestSetCloseNeverStarted(t *testing.T) {
	s := NewSet[int](2, Policy{})
	done := make(chan struct{})
	go func() {
		s.Close()
		s.Close()
		s.Start() // after Close: starts nothing
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close of a set that never started waited")
	}
}
