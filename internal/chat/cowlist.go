package chat

import (
	"slices"
	"sync/atomic"
)

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

// add appends v; under Hub.mu. It appends in place when the array has room: a reader holds a
// slice no longer than the array's part written before, so v lands where no reader looks, and
// nothing a reader can see is ever written again (remove makes a new array). So a room that
// grows to n members costs O(n) copies in all, not O(n²): a join storm of 10,000 into one room
// copied 50 million pointers when each join copied the list.
func (l *cowList[T]) add(v T) {
	old := l.load()
	var next []T
	if len(old) < cap(old) {
		next = append(old, v)
	} else {
		next = make([]T, len(old), max(2*len(old), 4))
		copy(next, old)
		next = append(next, v)
	}
	l.p.Store(&next)
}

// remove takes v out; under Hub.mu. The list is copied (readers may hold it), in two moves
// around v rather than element by element.
func (l *cowList[T]) remove(v T) {
	old := l.load()
	i := slices.Index(old, v)
	if i < 0 {
		return
	}
	next := make([]T, len(old)-1)
	copy(next, old[:i])
	copy(next[i:], old[i+1:])
	l.p.Store(&next)
}
