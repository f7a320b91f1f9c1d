// Upkeep in the background: the checkpointer, on a connection of its own, and retention, which
// finds what to delete on the read connections and has the writer delete it, a chunk per
// transaction, between the chat's. Retention takes Store.mu only to swap the set of rooms
// written; it waits for each chunk with no lock held. The repeated failures of both are
// logged through repeatLog (its mu is a leaf).

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Retention deletes lines older than MaxAge and, per room, all but the newest MaxRows. What to
// delete is found with the read connections; the deleting is done by the writer, deleteChunk
// rows per transaction between the transactions of chat lines, so that chat never waits long
// behind it.

// purge deletes up to deleteChunk rows with ids up to upTo (of one room, when room is set).
type purge struct {
	room    string
	upTo    int64
	deleted int64      // set by run
	done    chan error // told when the transaction ended
}

func (p *purge) run(ctx context.Context, tx *sql.Tx, lastIndexed int64) error {
	chunk := `SELECT id FROM messages WHERE id <= ? ORDER BY id LIMIT ?`
	args := []any{p.upTo, deleteChunk}
	if p.room != "" {
		chunk = `SELECT id FROM messages WHERE room = ? AND id <= ? ORDER BY id LIMIT ?`
		args = []any{p.room, p.upTo, deleteChunk}
	}
	// The full-text index is told what goes (its rowids are the lines' ids, negated).
	if _, err := tx.ExecContext(ctx, `DELETE FROM messages_fts WHERE rowid IN (SELECT -id FROM messages WHERE id IN (`+chunk+`)
		AND kind IN ('chat', 'action') AND id <= ?)`, append(args, lastIndexed)...); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id IN (`+chunk+`)`, args...)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	p.deleted, err = res.RowsAffected()
	return err
}

func (p *purge) finish(err error) { p.done <- err }

// Retain runs retention once and returns how many lines it deleted.
func (s *Store) Retain(ctx context.Context) (int64, error) {
	var jobs []*purge
	if s.cfg.MaxAge > 0 {
		cutoff := time.Now().Add(-s.cfg.MaxAge).UnixNano()
		var firstKept, last int64
		err := s.rdb.QueryRowContext(ctx, `SELECT coalesce((SELECT id FROM messages WHERE at >= ? ORDER BY id LIMIT 1), 0),
			coalesce((SELECT max(id) FROM messages), 0)`, cutoff).Scan(&firstKept, &last)
		if err != nil {
			return 0, fmt.Errorf("retention: %w", err)
		}
		upTo := last
		if firstKept > 0 {
			upTo = firstKept - 1
		}
		if upTo > 0 {
			jobs = append(jobs, &purge{upTo: upTo})
		}
	}
	if s.cfg.MaxRows > 0 {
		s.mu.Lock()
		rooms := s.written
		s.written = make(map[string]struct{})
		s.mu.Unlock()
		for room := range rooms {
			var upTo int64
			err := s.rdb.QueryRowContext(ctx, `SELECT id FROM messages WHERE room = ? ORDER BY id DESC LIMIT 1 OFFSET ?`,
				room, s.cfg.MaxRows).Scan(&upTo)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("retention: %w", err)
			}
			jobs = append(jobs, &purge{room: room, upTo: upTo})
		}
	}
	var deleted int64
	for _, job := range jobs {
		for {
			p := &purge{room: job.room, upTo: job.upTo, done: make(chan error, 1)}
			s.enqueue(op{purge: p})
			select {
			case err := <-p.done:
				if err != nil {
					return deleted, err
				}
			case <-ctx.Done():
				return deleted, ctx.Err()
			}
			deleted += p.deleted
			if p.deleted < deleteChunk {
				break
			}
		}
	}
	return deleted, nil
}

// retainLoop runs retention every RetainEvery until Close.
func (s *Store) retainLoop() {
	defer s.stopped.Done()
	t := time.NewTicker(s.cfg.RetainEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		n, err := s.Retain(ctx)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.retainLog.fail(err)
		case err == nil:
			s.retainLog.ok()
			if n > 0 {
				s.log.Info("history retention", "deleted", n)
			}
		}
	}
}

// checkpointEvery is how often the write-ahead log is copied into the database.
const checkpointEvery = 500 * time.Millisecond

// checkpointLoop copies the write-ahead log into the database now and then, without blocking
// the writer (a PASSIVE checkpoint copies what no reader needs), so that the log stays small.
func (s *Store) checkpointLoop() {
	defer s.stopped.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if _, err := s.cdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			s.checkpointLog.fail(err)
		} else {
			s.checkpointLog.ok()
		}
	}
}
