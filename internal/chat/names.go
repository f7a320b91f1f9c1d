package chat

import (
	"errors"
	"sync"
)

// Names is who holds which name, for every node of the chat: a name, and every name that
// looks like it, is held by one member at a time. A single node keeps it in memory (see
// localNames); issue 16 keeps it in a NATS key-value bucket, where a claim is a create that can
// fail, is refreshed while held, and expires when its node stops refreshing it.
//
// The hub calls Claim and Release holding Hub.mu, so an implementation must answer at once or
// fail: one that waits on a network must keep a local view to answer from, or the hub must
// claim before it locks (issue 16 decides; see docs/architecture.md).
type Names interface {
	// Claim gives n to the member numbered holder, unless another holds n or a name that looks
	// like it: then ErrNameHeld. Claiming a name the holder holds already succeeds.
	Claim(n Name, holder uint64) error
	// Release frees n if holder holds it; it is a no-op otherwise.
	Release(n Name, holder uint64)
}

// ErrNameHeld is what Names.Claim says of a name someone else holds.
var ErrNameHeld = errors.New("name held by someone else")

// localNames is Names in this process's memory. Its lock is a leaf, taken under Hub.mu.
type localNames struct {
	mu    sync.Mutex
	index nameIndex[uint64]
}

func (l *localNames) Claim(n Name, holder uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if other, ok := l.index.find(n); ok && other != holder {
		return ErrNameHeld
	}
	l.index.add(n, holder)
	return nil
}

func (l *localNames) Release(n Name, holder uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index.remove(n, holder)
}
