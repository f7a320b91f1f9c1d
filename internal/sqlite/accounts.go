package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"hubbub/internal/chat"
)

// accountTimeout bounds each account read or write, including the wait for the writer's
// connection, which a large history batch may hold for a while.
const accountTimeout = 10 * time.Second

var _ chat.Accounts = (*Store)(nil)

// FindAccount implements chat.Accounts. Should keys match two accounts (key1 of one, key2 of
// the other), the one whose name looks the same in the same way wins, then the older.
func (s *Store) FindAccount(ctx context.Context, keys [2]string) (chat.Account, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	var a chat.Account
	var created int64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, name, key1, key2, hash, created, oper FROM accounts
		WHERE key1 IN (?1, ?2) OR key2 IN (?1, ?2)
		ORDER BY key1 = ?1 DESC, key2 = ?2 DESC, id LIMIT 1`, keys[0], keys[1]).
		Scan(&a.ID, &a.Name, &a.Keys[0], &a.Keys[1], &a.Hash, &created, &a.Oper)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Account{}, false, nil
	}
	if err != nil {
		return chat.Account{}, false, fmt.Errorf("find account: %w", err)
	}
	a.Created = time.Unix(0, created)
	return a, true, nil
}

// CreateAccount implements chat.Accounts. The check and the insert are one statement in one
// transaction, which SQLite runs under the write lock, so two registrations of look-alikes,
// even from two processes on one file (the server and `hubbub account create`), cannot both
// pass; the unique indexes stop whatever the check might miss.
func (s *Store) CreateAccount(ctx context.Context, a chat.Account) error {
	if a.Name == "" || a.Keys[0] == "" || a.Keys[1] == "" || a.Hash == "" {
		return errors.New("create account: name, keys and hash are required")
	}
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, key1, key2, hash, created)
		SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (
			SELECT 1 FROM accounts WHERE key1 IN (?2, ?3) OR key2 IN (?2, ?3) OR name = ?1)`,
		a.Name, a.Keys[0], a.Keys[1], a.Hash, a.Created.UnixNano())
	if isUnique(err) {
		return chat.ErrAccountExists
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create account: %w", err)
	} else if n == 0 {
		return chat.ErrAccountExists
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

// SetPassword implements chat.Accounts. The old hash's bytes are overwritten, not left in the
// page's free space. The account's web login tokens are deleted with it: a changed password
// ends every session it let in.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	if hash == "" {
		return errors.New("set password: the hash is required")
	}
	return s.secureWrite(ctx, "set password", name, nil, `UPDATE accounts SET hash = ?2 WHERE name = ?1`, hash)
}

// DeleteAccount implements chat.Accounts. The row's bytes are overwritten, not left in free
// pages of the file. Its web login tokens and its private history go with it.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	return s.secureWrite(ctx, "delete account", name, []string{deletePrivateSQL}, `DELETE FROM accounts WHERE name = ?1`)
}

// deletePrivateSQL deletes the private messages of the account registered as ?1: those whose
// pair (the two accounts' keys, "@ID", sorted and joined by a newline; see chat.accountKey)
// holds its key. Run before the account's row goes, which it reads the ID from.
const deletePrivateSQL = `DELETE FROM messages WHERE kind = 'private' AND pair <> '' AND (
	pair LIKE '@' || (SELECT id FROM accounts WHERE name = ?1) || char(10) || '%' OR
	pair LIKE '%' || char(10) || '@' || (SELECT id FROM accounts WHERE name = ?1))`

// secureWrite runs the statements before, then one statement that changes the account
// registered as name (the ?1 of each), and
// deletes the account's web login tokens, in one transaction, with secure_delete on for it:
// a password's hash is worth overwriting; the history's deletes, which are many, are not.
func (s *Store) secureWrite(ctx context.Context, what, name string, before []string, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	conn, err := s.wdb.Conn(ctx) // the writer's only connection: the pragma must apply to it
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		// Not ctx: the setting must be put back even when the caller gave up.
		ctx, cancel := context.WithTimeout(context.Background(), accountTimeout)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = OFF`); err != nil {
			s.log.Warn("history: secure_delete stays on for the writer", "err", err)
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	for _, q := range before {
		if _, err := tx.ExecContext(ctx, q, name); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	res, err := tx.ExecContext(ctx, query, append([]any{name}, args...)...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return chat.ErrNoAccount
	}
	if _, err := tx.ExecContext(ctx, deleteTokensSQL, name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func isUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
