package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"hubbub/internal/chat"
)

// Login tokens: what the web page's cookie holds, so that a browser stays logged in to an
// account across reloads without keeping its password. See migrations/0006_web_sessions.sql.
const (
	// TokenLifetime is how long a token lives after it was last used.
	TokenLifetime = 30 * 24 * time.Hour
	// tokenRefresh is how often, at most, a token's use is written: sliding the expiry on
	// every page load would cost a write per connection for a day's precision nobody needs.
	tokenRefresh = time.Hour
	// tokenBytes is a token's randomness: 256 bits, beyond guessing.
	tokenBytes = 32
	// maxTokensPerAccount bounds the rows one account can make by logging in again and again
	// (a script with the password); past it the least recently used go first.
	maxTokensPerAccount = 50
)

// tokenEncoding writes tokens as cookie-safe text.
var tokenEncoding = base64.RawURLEncoding

// CreateToken makes a login token for the account registered as account (exactly, as
// chat.Hub.CheckLogin returns it) and returns it, to be given to the browser once, and its id,
// to revoke it by. Only its hash is kept. chat.ErrNoAccount when there is no such account.
func (s *Store) CreateToken(ctx context.Context, account string) (token, id string, err error) {
	raw := make([]byte, tokenBytes)
	rand.Read(raw) // never fails (crypto/rand: it crashes the program rather than return short)
	token = tokenEncoding.EncodeToString(raw)
	hash := sha256.Sum256([]byte(token))
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	var rowID int64
	err = tx.QueryRowContext(ctx, `INSERT INTO web_sessions (hash, account_id, account, created, last_used, expires)
		SELECT ?1, id, name, ?3, ?3, ?4 FROM accounts WHERE name = ?2 RETURNING id`,
		hash[:], account, now, now+TokenLifetime.Nanoseconds()).Scan(&rowID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", chat.ErrNoAccount
	}
	if err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	// Tokens that expired unused are deleted here, where the account's rows are at hand,
	// rather than by a sweep of the whole table.
	if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE account = ?1 AND (expires <= ?2 OR id NOT IN (
		SELECT id FROM web_sessions WHERE account = ?1 ORDER BY last_used DESC, id DESC LIMIT ?3))`,
		account, now, maxTokensPerAccount); err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", "", fmt.Errorf("create token: %w", err)
	}
	return token, strconv.FormatInt(rowID, 10), nil
}

// AccountOfToken returns the account that token logs in to, and the token's id. ok is false
// for a token that is unknown, revoked or expired (an expired one is deleted). Using a token
// pushes its expiry back to TokenLifetime from now (written at most once an hour).
func (s *Store) AccountOfToken(ctx context.Context, token string) (account, id string, ok bool, err error) {
	if raw, err := tokenEncoding.DecodeString(token); err != nil || len(raw) != tokenBytes {
		return "", "", false, nil // not one of ours: no need to look
	}
	hash := sha256.Sum256([]byte(token))
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	var rowID, lastUsed, expires int64
	// Joined with accounts: a token outlives nothing of its account's.
	err = s.rdb.QueryRowContext(ctx, `SELECT w.id, a.name, w.last_used, w.expires
		FROM web_sessions w JOIN accounts a ON a.id = w.account_id AND a.name = w.account
		WHERE w.hash = ?`, hash[:]).Scan(&rowID, &account, &lastUsed, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("token: %w", err)
	}
	now := time.Now()
	if now.UnixNano() >= expires {
		if _, err := s.wdb.ExecContext(ctx, `DELETE FROM web_sessions WHERE id = ?`, rowID); err != nil {
			return "", "", false, fmt.Errorf("delete expired token: %w", err)
		}
		return "", "", false, nil
	}
	if now.Sub(time.Unix(0, lastUsed)) >= tokenRefresh {
		if _, err := s.wdb.ExecContext(ctx, `UPDATE web_sessions SET last_used = ?2, expires = ?3 WHERE id = ?1`,
			rowID, now.UnixNano(), now.Add(TokenLifetime).UnixNano()); err != nil {
			return "", "", false, fmt.Errorf("refresh token: %w", err)
		}
	}
	return account, strconv.FormatInt(rowID, 10), true, nil
}

// RevokeToken deletes the token with id; one already gone is no error.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	rowID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil // no token has that id
	}
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM web_sessions WHERE id = ?`, rowID); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// RevokeTokens deletes every token of the account registered as account except the one with
// id keep ("": all of them), so that /logout ends the account's other sessions and not the
// one it was typed in.
func (s *Store) RevokeTokens(ctx context.Context, account, keep string) error {
	keepID, err := strconv.ParseInt(keep, 10, 64)
	if err != nil {
		keepID = 0 // ids start at 1: keep none
	}
	ctx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	if _, err := s.wdb.ExecContext(ctx, `DELETE FROM web_sessions WHERE account = ? AND id <> ?`, account, keepID); err != nil {
		return fmt.Errorf("revoke tokens: %w", err)
	}
	return nil
}

// deleteTokensSQL deletes the tokens of an account, named as registered: run in the same
// transaction as a change of its password or its deletion (see secureWrite).
const deleteTokensSQL = `DELETE FROM web_sessions WHERE account = ?`
