package chat

import (
	"errors"
	"sync"
)

// Names is who holds which name, for every node of the chat: a name, and every name that
// looks like it, is held by one member at a time. A single node keeps it in memory (see
// localNames); a cluster keeps it in a NATS key-value bucket (docs/cluster.md), where a claim
// is a create that can fail, is refreshed while held, and expires when its node stops
// refreshing it.
//
// The hub calls Claim and Rename holding no lock of its own, since a registry on a network
// answers in a round trip; Release must not block (a network registry frees the name in the
// background). A holder is a member's number, unique in the whole cluster.
type Names interface {
	// Claim gives n to holder, unless another holds n or a name that looks like it: then
	// ErrNameHeld. Claiming a name the holder holds already succeeds. Any other error means
	// the registry cannot say, and the name is not given.
	Claim(n Name, holder uint64) error
	// Rename gives holder the name to in place of from, which it holds: to's skeletons that
	// from does not share are claimed as Claim does (failing the same way, and then holder
	// keeps from), and from's that to does not share are freed.
	Rename(from, to Name, holder uint64) error
	// Release frees n if holder holds it; it is a no-op otherwise.
	Release(n Name, holder uint64)

	// Update tells what the member p.Member, which holds a name, looks like now, for the other
	// nodes to see; it must not block.
	Update(p Presence)
	// Lookup returns who holds n or a look-alike, on whichever node. Lookup and Online answer
	// from memory (the hub calls them holding Hub.mu): a registry that keeps only claims, as a
	// single node's does, says nobody, since the hub knows its own members itself.
	Lookup(n Name) (Presence, bool)
	// Online returns every member the registry knows of, each once.
	Online() []Presence
	// InRoom returns the members the registry knows of in the room whose key is room (its
	// Name.Keys()[0]), each once: what Online filtered by room would be, without a walk over
	// everyone (the hub asks on each leave of a room, holding Hub.mu).
	InRoom(room string) []Presence
}

// ErrNameHeld is what Names.Claim says of a name someone else holds.
var ErrNameHeld = errors.New("name held by someone else")

// localNames is Names in this process's memory. Its lock is a leaf.
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

func (l *localNames) Rename(from, to Name, holder uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if other, ok := l.index.find(to); ok && other != holder {
		return ErrNameHeld
	}
	l.index.remove(from, holder)
	l.index.add(to, holder)
	return nil
}

// Update, Lookup and Online know nothing: a single node's hub knows its members itself.
func (l *localNames) Update(Presence)              {}
func (l *localNames) Lookup(Name) (Presence, bool) { return Presence{}, false }
func (l *localNames) Online() []Presence           { return nil }
func (l *localNames) InRoom(string) []Presence     { return nil }

func (l *localNames) Release(n Name, holder uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index.remove(n, holder)
}
