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

// inserter writes records with multi-row INSERT statements. The rows of one statement of the
// node's own lines get consecutive ids (this is the database's only writer), so each record's
// id follows from the statement's last. Lines other nodes kept (Index) go in statements of
// their own, which skip an origin kept already and return the ids of the rows they wrote.
type inserter struct {
	s       *Store
	tx      *sql.Tx
	ids     []int64 // by op index; 0 for a line whose origin was kept already
	last    int64   // the highest id written
	indexed bool    // whether the pending rows are lines of other nodes
	pending []int   // op indexes of the rows not yet written
	origins []string
	args    []any // their values
}

func (in *inserter) add(ctx context.Context, i int, r *chat.Record, origin string) error {
	if indexed := origin != ""; indexed != in.indexed {
		if err := in.flush(ctx); err != nil {
			return err
		}
		in.indexed = indexed
	}
	pair := ""
	if r.Kind == chat.KindPrivate {
		pair = pairKey(r.FromKey, r.ToKey)
	}
	in.pending = append(in.pending, i)
	// The kind goes in by its stable name, never its number, which the chat may change.
	in.args = append(in.args, r.Time.UnixNano(), r.Kind.String(), r.Room, r.RoomName, r.From, r.FromKey, r.To, pair, r.Text)
	if in.indexed {
		in.args = append(in.args, origin)
		in.origins = append(in.origins, origin)
	}
	if len(in.pending) == rowsPerInsert {
		return in.flush(ctx)
	}
	return nil
}

func (in *inserter) flush(ctx context.Context) error {
	if len(in.pending) == 0 {
		return nil
	}
	var err error
	if in.indexed {
		err = in.flushIndexed(ctx)
	} else {
		err = in.flushOwn(ctx)
	}
	in.pending, in.args, in.origins = in.pending[:0], in.args[:0], in.origins[:0]
	return err
}

func (in *inserter) flushOwn(ctx context.Context) error {
	n := len(in.pending)
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
	in.last = max(in.last, last)
	return nil
}

// flushIndexed writes the pending lines of other nodes. RETURNING names the rows written, in
// no promised order, by origin: a line whose origin is kept already, or is twice in the
// statement, is written once, and its other copies get no id.
func (in *inserter) flushIndexed(ctx context.Context) error {
	rows, err := in.tx.StmtContext(ctx, in.s.indexes[len(in.pending)]).QueryContext(ctx, in.args...)
	if err != nil {
		return fmt.Errorf("index a line: %w", err)
	}
	defer rows.Close()
	written := make(map[string]int64, len(in.pending))
	for rows.Next() {
		var id int64
		var origin string
		if err := rows.Scan(&id, &origin); err != nil {
			return fmt.Errorf("index a line: %w", err)
		}
		written[origin] = id
		in.last = max(in.last, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index a line: %w", err)
	}
	for k, i := range in.pending {
		if id, ok := written[in.origins[k]]; ok {
			in.ids[i] = id
			delete(written, in.origins[k]) // the first copy has it
		}
	}
	return nil
}

// prepareInserts prepares the INSERT statements for 1 to rowsPerInsert rows on the writer's
// connection, once: inside a transaction, that one connection is taken.
func (s *Store) prepareInserts(ctx context.Context) error {
	const columns = `INSERT INTO messages (at, kind, room, room_name, sender, sender_key, recipient, pair, text`
	s.inserts = make([]*sql.Stmt, rowsPerInsert+1)
	s.indexes = make([]*sql.Stmt, rowsPerInsert+1)
	for n := 1; n <= rowsPerInsert; n++ {
		stmt, err := s.wdb.PrepareContext(ctx, columns+`) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", "))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.inserts[n] = stmt
		stmt, err = s.wdb.PrepareContext(ctx, columns+`, origin) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", ")+
			` ON CONFLICT (origin) WHERE origin IS NOT NULL DO NOTHING RETURNING id, origin`)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.indexes[n] = stmt
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
			if err := ins.add(ctx, i, o.rec, o.origin); err != nil {
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
