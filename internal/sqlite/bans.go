// Bans, chat.BanList: SaveBan and DeleteBan queue a change for the writer (Store.mu, briefly,
// never waiting: they are called under Hub.mu); Bans reads them on the read connections,
// holding no lock of the store.

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"hubbub/internal/chat"
)

// SaveBan implements chat.BanList.
func (s *Store) SaveBan(b chat.Ban) { s.enqueue(op{ban: &b}) }

// DeleteBan implements chat.BanList.
func (s *Store) DeleteBan(b chat.Ban) { s.enqueue(op{ban: &b, deleteBan: true}) }

func writeBan(ctx context.Context, tx *sql.Tx, b chat.Ban, del bool) error {
	kind, value, display := "address", b.Address.String(), b.Address.String()
	if b.Name != "" {
		n, err := chat.ParseName(b.Name)
		if err != nil {
			return nil // not a name this hubbub would ban
		}
		kind, value, display = "name", n.Key, n.Display
	}
	var err error
	if del {
		_, err = tx.ExecContext(ctx, `DELETE FROM bans WHERE kind = ? AND value = ?`, kind, value)
	} else {
		var until int64
		if !b.Until.IsZero() {
			until = b.Until.UnixNano()
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO bans (kind, value, display, until) VALUES (?, ?, ?, ?)`,
			kind, value, display, until)
	}
	if err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	return nil
}

// Bans implements chat.BanList.
func (s *Store) Bans(ctx context.Context) ([]chat.Ban, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT kind, display, until FROM bans`)
	if err != nil {
		return nil, fmt.Errorf("read bans: %w", err)
	}
	defer rows.Close()
	var out []chat.Ban
	for rows.Next() {
		var kind, display string
		var until int64
		if err := rows.Scan(&kind, &display, &until); err != nil {
			return nil, fmt.Errorf("read bans: %w", err)
		}
		b := chat.Ban{}
		if until != 0 {
			b.Until = time.Unix(0, until)
		}
		if kind == "name" {
			b.Name = display
		} else if p, err := netip.ParsePrefix(display); err == nil {
			b.Address = p
		} else {
			continue
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

var _ chat.BanList = (*Store)(nil)
