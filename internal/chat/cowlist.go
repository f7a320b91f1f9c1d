package chat

import "sync/atomic"

// cowList is a list copied on write: changed under Hub.mu, read with no lock by whoever
// delivers (a room's members, a member's devices), so that a line said never waits for a join.
// The zero value is empty.
type cowList[T comparable] struct {
	p atomic.Pointer[[]T]
}

// load returns the list, in the order added. The slice must not be modified.
func (l *cowList[T]) load() []T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	return nil
}

// add appends v; under Hub.mu.
func (l *cowList[T]) add(v T) {
	old := l.load()
	next := make([]T, len(old), len(old)+1)
	copy(next, old)
	next = append(next, v)
	l.p.Store(&next)
}

// remove takes v out; under Hub.mu.
func (l *cowList[T]) remove(v T) {
	old := l.load()
	next := make([]T, 0, max(len(old)-1, 0))
	for _, x := range old {
		if x != v {
			next = append(next, x)
		}
	}
	l.p.Store(&next)
}
