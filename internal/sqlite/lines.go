// Chat lines and private history, chat.Lines: Store and Note queue lines for the writer
// (Store.mu, briefly); Recent reads them on the read connections, which WAL lets run beside
// the writer, holding no lock of the store. Search is in search.go.

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"hubbub/internal/chat"
)

// Store implements chat.Lines.
func (s *Store) Store(r chat.Record, done func(chat.Record, error)) {
	s.queueRecord(op{rec: &r, done: done})
}

// queueRecord queues o, a line whose owner waits to be told, once there is room in the queue.
func (s *Store) queueRecord(o op) {
	s.mu.Lock()
	for len(s.queue) >= s.cfg.QueueLimit && !s.closing {
		s.notFull.Wait()
	}
	if s.closing {
		s.mu.Unlock()
		if o.done != nil {
			o.done(*o.rec, ErrClosed)
		}
		return
	}
	s.queue = append(s.queue, o)
	s.noteRoomLocked(o.rec.Room)
	s.mu.Unlock()
	s.nudge()
}

// Note implements chat.Lines.
func (s *Store) Note(r chat.Record) { s.enqueue(op{rec: &r}) }

// noteRoomLocked remembers that room has new lines, for retention to look at.
func (s *Store) noteRoomLocked(room string) {
	if room != "" && s.cfg.MaxRows > 0 {
		s.written[room] = struct{}{}
	}
}

const selectMessage = `SELECT id, at, kind, room, room_name, sender, sender_key, recipient, pair, text FROM messages`

// Recent implements chat.Lines.
func (s *Store) Recent(ctx context.Context, room, a, b string, before int64, n int) ([]chat.Record, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var rows *sql.Rows
	var err error
	if room != "" {
		rows, err = s.rdb.QueryContext(ctx, selectMessage+` WHERE room = ? AND id < ? AND kind IN ('chat', 'action', 'topic')
			ORDER BY id DESC LIMIT ?`, room, before, n)
	} else {
		rows, err = s.rdb.QueryContext(ctx, selectMessage+` WHERE pair = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			pairKey(a, b), before, n)
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, nil
}

func scanRecords(rows *sql.Rows) ([]chat.Record, error) {
	defer rows.Close()
	var out []chat.Record
	for rows.Next() {
		var r chat.Record
		var at int64
		var kind, pair string
		if err := rows.Scan(&r.ID, &at, &kind, &r.Room, &r.RoomName, &r.From, &r.FromKey, &r.To, &pair, &r.Text); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		r.Time = time.Unix(0, at)
		var known bool
		if r.Kind, known = chat.ParseKind(kind); !known {
			r.Kind = chat.KindChat // a newer hubbub's kind: shown as a line rather than lost
		}
		if pair != "" {
			a, b, _ := strings.Cut(pair, "\n")
			r.ToKey = a
			if a == r.FromKey {
				r.ToKey = b
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return out, nil
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "\n" + b
}

var _ chat.Lines = (*Store)(nil)
