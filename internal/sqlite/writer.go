// The writer goroutine: the queue it drains (Store.mu, held only to add or take), the batching
// of whatever is queued into one transaction, multi-row inserts, and the full-text index
// brought up to date in bulk. The writer holds the writer's connection, and SQLite's write
// lock, for one transaction at a time, and no lock of the store while it does.

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"hubbub/internal/chat"
)

func (s *Store) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue queues o whatever the queue's length: callers hold locks and must not wait.
func (s *Store) enqueue(o op) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	s.nudge()
}

// writeLoop writes what is queued, a transaction at a time, until Close.
func (s *Store) writeLoop() {
	defer s.stopped.Done()
	defer close(s.results)
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxBatch)
		ops := make([]op, n)
		copy(ops, s.queue)
		s.queue = append(s.queue[:0], s.queue[n:]...)
		closing := s.closing
		s.notFull.Broadcast()
		s.mu.Unlock()
		if n == 0 {
			if closing {
				return
			}
			<-s.wake
			continue
		}
		start := time.Now()
		err := s.write(ops)
		s.lastErr.Store(&err)
		if s.cfg.Observer != nil {
			lines := 0
			for _, o := range ops {
				if o.rec != nil {
					lines++
				}
			}
			s.cfg.Observer.HistoryWritten(lines, time.Since(start), err)
		}
		s.results <- batch{ops: ops, err: err}
	}
}

// rowsPerInsert is how many lines one INSERT statement writes: one statement of many rows
// costs half as much per row as as many statements of one.
const rowsPerInsert = 50

// inserter writes records with multi-row INSERT statements. The rows of one statement get
// consecutive ids (this is the database's only writer), so each record's id follows from the
// statement's last.
type inserter struct {
	s       *Store
	tx      *sql.Tx
	ids     []int64 // by op index
	last    int64   // the last id written
	pending []int   // op indexes of the rows not yet written
	args    []any   // their values
}

func (in *inserter) add(ctx context.Context, i int, r *chat.Record) error {
	pair := ""
	if r.Kind == chat.KindPrivate {
		pair = pairKey(r.FromKey, r.ToKey)
	}
	in.pending = append(in.pending, i)
	// The kind goes in by its stable name, never its number, which the chat may change.
	in.args = append(in.args, r.Time.UnixNano(), r.Kind.String(), r.Room, r.RoomName, r.From, r.FromKey, r.To, pair, r.Text)
	if len(in.pending) == rowsPerInsert {
		return in.flush(ctx)
	}
	return nil
}

func (in *inserter) flush(ctx context.Context) error {
	n := len(in.pending)
	if n == 0 {
		return nil
	}
	res, err := in.tx.StmtContext(ctx, in.s.inserts[n]).ExecContext(ctx, in.args...)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	last, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	for k, i := range in.pending {
		in.ids[i] = last - int64(n-1-k)
	}
	in.last = last
	in.pending, in.args = in.pending[:0], in.args[:0]
	return nil
}

// prepareInserts prepares the INSERT statements for 1 to rowsPerInsert rows on the writer's
// connection, once: inside a transaction, that one connection is taken.
func (s *Store) prepareInserts(ctx context.Context) error {
	s.inserts = make([]*sql.Stmt, rowsPerInsert+1)
	for n := 1; n <= rowsPerInsert; n++ {
		stmt, err := s.wdb.PrepareContext(ctx, `INSERT INTO messages (at, kind, room, room_name, sender, sender_key, recipient, pair, text) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", "))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.inserts[n] = stmt
	}
	return nil
}

// indexEvery is how many lines may wait to be added to the full-text index: it is brought up
// to date in bulk, which costs a fraction of indexing line by line, and before each search.
const indexEvery = 512

// index adds the lines after lastIndexed, up to last, to the full-text index, in tx. Its
// rowids (the ids negated) go in increasing, as FTS5 wants them: a rowid lower than the last
// one makes it write out what it holds in memory, a segment per line.
func (s *Store) index(ctx context.Context, tx *sql.Tx, last int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages_fts (rowid, terms)
		SELECT -id, `+termsFunc+`(room, text) FROM messages WHERE id > ? AND id <= ? AND kind IN ('chat', 'action')
		ORDER BY id DESC`, s.lastIndexed, last); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fts_state SET last_indexed = ?`, last); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// write runs ops in one transaction. On failure nothing of it is kept, and every op is told.
func (s *Store) write(ops []op) error {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	ids := make([]int64, len(ops))
	ins := inserter{s: s, tx: tx, ids: ids}
	indexNow := false
	for i, o := range ops {
		switch {
		case o.index != nil:
			indexNow = true
		case o.rec != nil:
			if err := ins.add(ctx, i, o.rec); err != nil {
				return err
			}
		case o.ban != nil:
			if err := ins.flush(ctx); err != nil {
				return err
			}
			if err := writeBan(ctx, tx, *o.ban, o.deleteBan); err != nil {
				return err
			}
		case o.purge != nil:
			if err := ins.flush(ctx); err != nil {
				return err
			}
			if err := o.purge.run(ctx, tx, s.lastIndexed); err != nil {
				return err
			}
		}
	}
	if err := ins.flush(ctx); err != nil {
		return err
	}
	last := max(s.lastID, ins.last)
	indexed := s.lastIndexed
	if last-s.lastIndexed >= indexEvery || (indexNow && last > s.lastIndexed) {
		if err := s.index(ctx, tx, last); err != nil {
			return err
		}
		indexed = last
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.lastID, s.lastIndexed = last, indexed
	for i, o := range ops {
		if o.rec != nil {
			o.rec.ID = ids[i]
		}
	}
	return nil
}
