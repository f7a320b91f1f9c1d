// Lines other nodes of a cluster kept: in a cluster the events stream is the log, and this
// store is one node's index of it. Index queues a line like Store (Store.mu, briefly, waiting
// for room in the queue), with the id of the event that carried it, so that an event read
// twice is kept once.

package sqlite

import (
	"errors"

	"hubbub/internal/chat"
)

// ErrNoOrigin is what Index reports for a line given without the event that carried it: it
// could not be told from a copy of itself.
var ErrNoOrigin = errors.New("a line from another node without its event's id")

// Index queues r, a line another node kept first and published in the event named origin, and
// calls done once it is kept, or could not be, as Store does. The line gets an ID of this
// store's, after every line kept before it, so IDs increase in the order this node learned
// of its lines, whoever said them. A line whose origin is kept already is not kept again:
// done is then told of it with ID 0 and no error. Like Store, Index may block while too much
// is queued.
func (s *Store) Index(r chat.Record, origin string, done func(chat.Record, error)) {
	r.ID = 0 // the other node's, which means nothing here
	if origin == "" {
		if done != nil {
			done(r, ErrNoOrigin)
		}
		return
	}
	s.queueRecord(op{rec: &r, origin: origin, done: done})
}
