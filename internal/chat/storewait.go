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

// maxStoreWait bounds that wait: a history that does not answer must not keep a connection
// from ending (the line is then shown after the leave, as before).
const maxStoreWait = 2 * time.Second

// storeWait counts what a device said that the history has not called back for yet.
type storeWait struct {
	mu      sync.Mutex
	pending int
	idle    chan struct{} // closed when pending falls to 0; nil while nobody waits
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
	w.mu.Unlock()
	s.hub.cfg.History.Store(rec, func(rec Record, err error) {
		defer w.finish()
		done(rec, err)
	})
}

func (w *storeWait) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
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
