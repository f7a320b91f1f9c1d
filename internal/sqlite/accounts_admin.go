package sqlite

import (
	"context"
	"fmt"
	"time"

	"hubbub/internal/chat"
)

// What `hubbub account` needs beyond chat.Accounts: the server never lists accounts or names
// operators, so these are not in the interface the chat declares.

// ListAccounts returns every account, ordered by name (ASCII letters of either case together). Hash is left empty: listing is for
// people to read, and a hash that is never read cannot leak.
func (s *Store) ListAccounts(ctx context.Context) ([]chat.Account, error) {
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, key1, key2, created, oper FROM accounts ORDER BY name COLLATE NOCASE, name, id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []chat.Account
	for rows.Next() {
		var a chat.Account
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &a.Keys[0], &a.Keys[1], &created, &a.Oper); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		a.Created = time.Unix(0, created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// SetOper marks the account registered as name (exactly, as for SetPassword) an operator, or
// unmarks it; chat.ErrNoAccount when there is none. A session logged in now keeps the rights
// it has: the server reads the mark at login.
func (s *Store) SetOper(ctx context.Context, name string, oper bool) error {
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	res, err := s.wdb.ExecContext(ctx, `UPDATE accounts SET oper = ? WHERE name = ?`, oper, name)
	if err != nil {
		return fmt.Errorf("set oper: %w", err)
	}
	// SQLite counts the rows the statement matched, also when the value was already oper.
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set oper: %w", err)
	} else if n == 0 {
		return chat.ErrNoAccount
	}
	return nil
}
