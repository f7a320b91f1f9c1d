package chat

import (
	"sync"
	"time"
)

// What a device says is shown once the history has kept it (History.Store calls back), but
// its leaving is told at once: a line followed by /part, /nick or the end of the connection
// was shown after "has left" (`printf 'bob\nbye\n' | nc -N` showed the leave first). So a
// device's leaving, parting and renaming wait, a bounded time, until what it said before is
// shown.
//
// What it says that is kept nowhere (a guest's private message) was shown at once too, before
// the lines it said just before (`line one`, `/msg bob pm two` in one paste showed bob the
// private message first). Such a message waits behind those lines instead (afterStored), on
// the history's goroutine rather than the device's: its reader goes on reading meanwhile.

// maxStoreWait bounds that wait: a history that does not answer must not keep a connection
// from ending (the line is then shown after the leave, as before).
const maxStoreWait = 2 * time.Second

// storeWait counts what a device said that the history has not called back for yet.
type storeWait struct {
	mu sync.Mutex
	// pending counts the stores not yet called back, and falls only once what waits behind
	// a store (after) has run: waitStored waits for those too.
	pending int
	idle    chan struct{} // closed when pending falls to 0; nil while nobody waits
	// stored counts the stores called back, issued the stores made: after[i] runs once
	// stored reaches its mark, in order.
	stored, issued uint64
	after          []afterStore
	running        bool // a callback runs what is in after: nothing else may meanwhile
}

// afterStore is something a device did that is shown once the stores it made before are.
type afterStore struct {
	mark uint64
	fn   func()
}

// store keeps rec through the history and calls done with it, counting it as pending until
// done has returned.
func (s *Session) store(rec Record, done func(Record, error)) {
	if s.stores == nil {
		s.stores = &storeWait{}
	}
	w := s.stores
	w.mu.Lock()
	w.pending++
	w.issued++
	w.mu.Unlock()
	s.hub.cfg.History.Store(rec, func(rec Record, err error) {
		defer w.finish()
		done(rec, err)
	})
}

// storing reports whether something the device said waits for the history: what it does now
// must then wait too (afterStored). Called by the reading goroutine.
func (s *Session) storing() bool {
	w := s.stores
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending > 0 || w.running || len(w.after) > 0
}

// afterStored runs fn once what the device said before is shown: at once when nothing waits
// for the history, else from the history's callback of the last store made so far. fn must be
// called with no lock held and take what it needs. Called by the reading goroutine.
func (s *Session) afterStored(fn func()) {
	w := s.stores
	if w == nil {
		fn()
		return
	}
	w.mu.Lock()
	if w.pending == 0 && !w.running && len(w.after) == 0 {
		w.mu.Unlock()
		fn()
		return
	}
	w.after = append(w.after, afterStore{mark: w.issued, fn: fn})
	w.mu.Unlock()
}

func (w *storeWait) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stored++
	// Callbacks come one at a time, in the order of the stores; but a store that fails at
	// once (the history closing) calls back on the device's goroutine: one runs what is due,
	// and goes on while more becomes due.
	if !w.running {
		w.running = true
		for len(w.after) > 0 && w.after[0].mark <= w.stored {
			fn := w.after[0].fn
			w.after[0] = afterStore{}
			w.after = w.after[1:]
			w.mu.Unlock()
			fn()
			w.mu.Lock()
		}
		w.running = false
		if len(w.after) == 0 {
			w.after = nil
		}
	}
	if w.pending--; w.pending == 0 && w.idle != nil {
		close(w.idle)
		w.idle = nil
	}
}

// waitStored waits until what the device said before is shown, or maxStoreWait. It must be
// called with no lock of the hub's held: the history's callbacks take them.
func (s *Session) waitStored() {
	w := s.stores
	if w == nil {
		return
	}
	w.mu.Lock()
	if w.pending == 0 {
		w.mu.Unlock()
		return
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
	}
	idle := w.idle
	w.mu.Unlock()
	t := time.NewTimer(maxStoreWait)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}
