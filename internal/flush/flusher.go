// Package flush writes the output of many connections from a few goroutines: the flushers
// every transport's queues are written by (the line door and IRC through lineproto, the
// browsers through wsgateway).
//
// A transport appends to a connection's queue and puts the connection on its flusher's list
// (Add) if it is not there already. A flusher is one goroutine serving many connections: it
// calls each listed connection's Flush, which takes the queue (up to what one writev takes) and
// hands it to the kernel without waiting (Writev). While a flusher works through its list more
// piles up in the queues behind it, so the busier the server, the more each writev carries. A
// socket that is full is the transport's business: it gives the connection a writer goroutine of
// its own (WritevWait), which waits for the socket.
//
// Under light load a connection is flushed as soon as it has output. Under a storm (a pass
// over a thousand connections or more that took longer than 5 ms: a join storm sends every
// member a line per join) each connection is held back from its next flush for three times the
// pass, so that what arrives meanwhile goes out in one writev instead of one each: the cost of a
// storm is the system calls, not the bytes. A flood is held back the same way, connection by
// connection, when the transport asks for it (Policy.BusyMsgs): a connection whose last flush
// carried that many messages gets them faster than the flusher comes round, and waits
// Policy.BusyHold before its next. Output that answers a client's own input (Hurry), a
// connection's first output and its end are never held.
//
// Lock order: a connection's lock → Flusher.mu (Add may be called under the connection's
// lock); a flusher calls Flush under no lock of its own.
package flush

import (
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a connection a flusher writes; S is the working memory its flushes use (the
// transport's), one per flusher.
type Conn[S any] interface {
	// Flush writes what the connection has queued without waiting for the socket, and returns
	// how many messages that was. It runs on the flusher's goroutine only, with its scratch.
	Flush(scratch *S) (msgs int)
	// FlushState is the flusher's record of the connection.
	FlushState() *State
}

// State is what a flusher keeps of each connection it writes; a connection holds one.
type State struct {
	flushedAt time.Duration // when last flushed, from the flusher's epoch, or 0 for never; flusher only
	urgent    atomic.Bool   // what is queued answers the client, or ends it: not held
	busy      bool          // the last flush carried Policy.BusyMsgs or more; flusher only
}

// MarkUrgent has the flusher write the connection's output at its next pass without holding it
// back; the caller nudges the flusher, or is it.
func (s *State) MarkUrgent() { s.urgent.Store(true) }

// Policy is when a flusher holds connections back.
type Policy struct {
	// BusyMsgs is how many messages one flush of a connection must carry for the connection
	// to wait BusyHold before its next flush; 0: never.
	BusyMsgs int
	BusyHold time.Duration
}

// Flusher writes the output of the connections on its list, on a goroutine of its own (Run).
type Flusher[S any] struct {
	mu      sync.Mutex
	list    []Conn[S] // connections with output to write; guarded by mu
	stop    bool      // guarded by mu
	wake    chan struct{}
	stopped chan struct{}

	policy  Policy
	holdFor func(pass time.Duration, n int) time.Duration // StormHold, or a test's

	// Used only by the flusher's goroutine.
	epoch   time.Time     // State.flushedAt counts from here
	hold    time.Duration // how long a connection waits after a flush before the next
	held    []Conn[S]     // connections waiting out their hold
	scratch S             // lent to each Flush
}

// New returns a flusher that holds connections back as p says, and under a storm.
func New[S any](p Policy) *Flusher[S] {
	return &Flusher[S]{
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		policy:  p,
		holdFor: StormHold,
		epoch:   time.Now(),
	}
}

// StormHold is how long a flusher holds back the connections of a pass that took pass over n
// connections. A pass is long when it takes more than 5 ms over at least 1000 connections; a
// short list that took long was preempted, and holding it back would only add latency. Holding
// for three times the pass lets the flusher spend a quarter of its time in writev under a
// storm, with four times the lines in each.
func StormHold(pass time.Duration, n int) time.Duration {
	if pass > 5*time.Millisecond && n >= 1000 {
		return 3 * pass
	}
	return 0
}

// Add puts c on the list. c must not be on it already (a transport keeps a flag of its own,
// under its connection's lock).
func (f *Flusher[S]) Add(c Conn[S]) {
	f.mu.Lock()
	f.list = append(f.list, c)
	first := len(f.list) == 1
	f.mu.Unlock()
	if first {
		f.Nudge()
	}
}

// Nudge has the flusher look at its list and its held connections again.
func (f *Flusher[S]) Nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Hurry has the flusher write c's output without holding it back: it answers the client's
// own input, or ends the connection.
func (f *Flusher[S]) Hurry(c Conn[S]) {
	c.FlushState().MarkUrgent()
	f.Nudge()
}

// holdOf is how long c waits after its last flush before the next.
func (f *Flusher[S]) holdOf(s *State) time.Duration {
	if s.busy {
		return max(f.hold, f.policy.BusyHold)
	}
	return f.hold
}

// Run flushes connections until Close is called.
func (f *Flusher[S]) Run() {
	defer close(f.stopped)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var todo, ready, still []Conn[S]
	for {
		f.mu.Lock()
		todo, f.list = f.list, todo[:0]
		stop := f.stop
		f.mu.Unlock()

		now := time.Since(f.epoch)
		ready, still = ready[:0], still[:0]
		pending := append(f.held, todo...)
		for _, c := range pending {
			s := c.FlushState()
			if !stop && s.flushedAt != 0 && now < s.flushedAt+f.holdOf(s) && !s.urgent.Load() {
				still = append(still, c)
			} else {
				ready = append(ready, c)
			}
		}
		clear(pending)
		clear(todo)
		f.held, still = still, pending[:0]

		if len(ready) == 0 {
			if stop && len(f.held) == 0 {
				return
			}
			if len(f.held) > 0 {
				next := time.Duration(1<<63 - 1)
				for _, c := range f.held {
					s := c.FlushState()
					next = min(next, s.flushedAt+f.holdOf(s))
				}
				timer.Reset(next - now)
				select {
				case <-f.wake:
				case <-timer.C:
				}
				timer.Stop()
			} else {
				<-f.wake
			}
			continue
		}
		start := time.Since(f.epoch)
		for i, c := range ready {
			s := c.FlushState()
			s.urgent.Store(false)
			msgs := c.Flush(&f.scratch)
			s.busy = f.policy.BusyMsgs > 0 && msgs >= f.policy.BusyMsgs
			s.flushedAt = start
			ready[i] = nil
		}
		// A short pass of connections that were not held (users registering) says nothing
		// about the load on the held ones, so only a long pass or an empty hold list sets it.
		switch hold := f.holdFor(time.Since(f.epoch)-start, len(ready)); {
		case hold > 0:
			f.hold = hold
		case len(f.held) == 0:
			f.hold = 0
		}
	}
}

// Close stops the flusher once everything on its list is written, and waits for it. The
// flusher must be running.
func (f *Flusher[S]) Close() {
	f.mu.Lock()
	f.stop = true
	f.mu.Unlock()
	f.Nudge()
	<-f.stopped
}

// Set is a transport's flushers, one per processor, each serving the connections given it.
type Set[S any] struct {
	flushers []*Flusher[S]
	next     atomic.Uint32

	mu      sync.Mutex
	started bool // Start ran, or never will (Close); guarded by mu
	running bool // started and not yet closed; guarded by mu
}

// NewSet returns n flushers (at least one) holding connections back as p says. They run from
// Start on.
func NewSet[S any](n int, p Policy) *Set[S] {
	s := &Set[S]{}
	for range max(n, 1) {
		s.flushers = append(s.flushers, New[S](p))
	}
	return s
}

// Next returns the flusher to give a new connection: each in turn.
func (s *Set[S]) Next() *Flusher[S] {
	return s.flushers[int(s.next.Add(1))%len(s.flushers)]
}

// Start starts the flushers, once; after Close it does nothing.
func (s *Set[S]) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started, s.running = true, true
	for _, f := range s.flushers {
		go f.Run()
	}
}

// Close stops the flushers once their lists are written, and waits for them. Flushers that
// never ran never will.
func (s *Set[S]) Close() {
	s.mu.Lock()
	running := s.running
	s.started, s.running = true, false
	s.mu.Unlock()
	if running {
		for _, f := range s.flushers {
			f.Close()
		}
	}
}

// SetStormHold replaces StormHold for every flusher of s, for tests. It must be called before
// Start.
func (s *Set[S]) SetStormHold(hold func(pass time.Duration, n int) time.Duration) {
	for _, f := range s.flushers {
		f.holdFor = hold
	}
}
