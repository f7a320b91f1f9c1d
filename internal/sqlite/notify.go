// The notifier goroutine: it tells the owners of written lines, after their transaction
// committed, in the order they were queued. It holds no lock of the store while it calls
// them; the chat's callbacks take Hub.mu (sqlite notify → Hub.mu).

package sqlite

// notifyLoop tells the owners of written lines, in order, so that the writer can go on with
// the next transaction meanwhile.
func (s *Store) notifyLoop() {
	defer s.stopped.Done()
	for b := range s.results {
		for _, o := range b.ops {
			if o.done != nil {
				o.done(*o.rec, b.err)
			}
			if o.purge != nil {
				o.purge.finish(b.err)
			}
			if o.index != nil {
				close(o.index)
			}
		}
	}
}
