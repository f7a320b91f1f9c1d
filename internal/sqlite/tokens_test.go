package sqlite_test

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

// rawDB opens the store's file beside it, as another process would, to look at what it keeps
// and to age its tokens.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newToken(t *testing.T, s *sqlite.Store, account string) (token, id string) {
	t.Helper()
	token, id, err := s.CreateToken(t.Context(), account)
	if err != nil {
		t.Fatalf("create token for %s: %v", account, err)
	}
	return token, id
}

// tokenWorks reports whether token logs in to want, with id (when id is not "").
func tokenWorks(t *testing.T, s *sqlite.Store, token, want, id string) bool {
	t.Helper()
	account, gotID, ok, err := s.AccountOfToken(t.Context(), token)
	if err != nil {
		t.Fatalf("account of token: %v", err)
	}
	if ok && (account != want || (id != "" && gotID != id)) {
		t.Fatalf("token logs in to %q with id %q, want %q with id %q", account, gotID, want, id)
	}
	return ok
}

// TestTokens: a token logs in to its account until it is revoked, alone or with the account's
// others but one; a token that was never made, or is not even shaped like one, logs in to
// nothing; no token is made for an account that does not exist; the file keeps the token's
// hash and never the token.
func TestTokens(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	ctx := t.Context()
	for _, name := range []string{"Alice", "bob"} {
		if err := s.CreateAccount(ctx, account(t, name, "h-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	a1, id1 := newToken(t, s, "Alice")
	a2, id2 := newToken(t, s, "Alice")
	a3, _ := newToken(t, s, "Alice")
	b1, _ := newToken(t, s, "bob")
	if a1 == a2 || id1 == id2 || len(a1) < 43 {
		t.Fatalf("tokens %q (%s) and %q (%s): want two different tokens of 32 bytes", a1, id1, a2, id2)
	}
	for _, tok := range []string{a1, a2, a3} {
		if !tokenWorks(t, s, tok, "Alice", "") {
			t.Fatalf("a new token of Alice does not work")
		}
	}
	if !tokenWorks(t, s, a1, "Alice", id1) {
		t.Fatal("token 1 does not work")
	}
	other := "A"
	if a1[0] == 'A' {
		other = "B"
	}
	for _, bad := range []string{"", "x", other + a1[1:], a1 + "AAAA", "'; DROP TABLE web_sessions; --"} {
		if tokenWorks(t, s, bad, "", "") {
			t.Errorf("%q logs in", bad)
		}
	}
	if _, _, err := s.CreateToken(ctx, "carol"); !errors.Is(err, chat.ErrNoAccount) {
		t.Errorf("token for no account: %v, want ErrNoAccount", err)
	}
	if _, _, err := s.CreateToken(ctx, "alice"); !errors.Is(err, chat.ErrNoAccount) {
		t.Errorf("token for another spelling of the name: %v, want ErrNoAccount (the account's name, exactly)", err)
	}

	// The file holds the hash, never the token.
	var stored []byte
	if err := rawDB(t, cfg.Path).QueryRowContext(ctx, `SELECT hash FROM web_sessions WHERE id = ?`, id1).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(a1)); !bytes.Equal(stored, sum[:]) {
		t.Errorf("stored %x, want the token's SHA-256", stored)
	}
	for _, f := range []string{cfg.Path, cfg.Path + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(a1)) {
			t.Errorf("%s holds a token", filepath.Base(f))
		}
	}

	if err := s.RevokeToken(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a1, "Alice", "") {
		t.Error("a revoked token works")
	}
	if err := s.RevokeToken(ctx, id1); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if !tokenWorks(t, s, a2, "Alice", id2) {
		t.Error("revoking one token ended another")
	}
	// /logout from the device of token 2: every other token of Alice ends, bob's stay.
	if err := s.RevokeTokens(ctx, "Alice", id2); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a3, "Alice", "") || !tokenWorks(t, s, a2, "Alice", id2) || !tokenWorks(t, s, b1, "bob", "") {
		t.Error("RevokeTokens(Alice, keep 2): want token 3 ended, token 2 and bob's working")
	}
	if err := s.RevokeTokens(ctx, "Alice", ""); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a2, "Alice", "") || !tokenWorks(t, s, b1, "bob", "") {
		t.Error("RevokeTokens(Alice, none kept): want Alice's tokens ended, bob's working")
	}
}

// TestTokenExpiry: a token unused for its lifetime stops working and is deleted; a token used
// slides its expiry forward, written at most once an hour.
func TestTokenExpiry(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	ctx := t.Context()
	if err := s.CreateAccount(ctx, account(t, "Alice", "h")); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, cfg.Path)
	times := func(id string) (lastUsed, expires int64) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT last_used, expires FROM web_sessions WHERE id = ?`, id).Scan(&lastUsed, &expires); err != nil {
			t.Fatal(err)
		}
		return lastUsed, expires
	}
	set := func(id string, lastUsed, expires time.Time) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `UPDATE web_sessions SET last_used = ?, expires = ? WHERE id = ?`,
			lastUsed.UnixNano(), expires.UnixNano(), id); err != nil {
			t.Fatal(err)
		}
	}

	before := time.Now()
	tok, id := newToken(t, s, "Alice")
	if _, exp := times(id); time.Unix(0, exp).Before(before.Add(sqlite.TokenLifetime)) {
		t.Errorf("a new token expires at %v, want %v after it was made", time.Unix(0, exp), sqlite.TokenLifetime)
	}

	// Used 10 minutes ago: using it again writes nothing.
	recent, soon := time.Now().Add(-10*time.Minute), time.Now().Add(time.Hour)
	set(id, recent, soon)
	if !tokenWorks(t, s, tok, "Alice", id) {
		t.Fatal("token does not work")
	}
	if last, exp := times(id); last != recent.UnixNano() || exp != soon.UnixNano() {
		t.Error("a token used 10 minutes ago was written again")
	}
	// Used two hours ago: its expiry moves to a lifetime from now.
	set(id, time.Now().Add(-2*time.Hour), soon)
	before = time.Now()
	if !tokenWorks(t, s, tok, "Alice", id) {
		t.Fatal("token does not work")
	}
	if last, exp := times(id); time.Unix(0, last).Before(before) || time.Unix(0, exp).Before(before.Add(sqlite.TokenLifetime)) {
		t.Errorf("after use: last used %v, expires %v; want now and a lifetime from now", time.Unix(0, last), time.Unix(0, exp))
	}
	// Expired: it logs in to nothing, and is gone.
	set(id, time.Now().Add(-31*24*time.Hour), time.Now().Add(-time.Minute))
	if tokenWorks(t, s, tok, "Alice", "") {
		t.Error("an expired token works")
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM web_sessions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d tokens left (%v), want the expired one deleted", n, err)
	}
}

// TestTokensEndWithAccount: changing an account's password or deleting the account ends every
// token of it, and none of another account's.
func TestTokensEndWithAccount(t *testing.T) {
	s := open(t, testConfig(t))
	ctx := t.Context()
	for _, name := range []string{"Alice", "bob"} {
		if err := s.CreateAccount(ctx, account(t, name, "h-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := newToken(t, s, "Alice")
	b, _ := newToken(t, s, "bob")
	if err := s.SetPassword(ctx, "Alice", "h-new"); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a, "Alice", "") || !tokenWorks(t, s, b, "bob", "") {
		t.Error("after Alice's new password: want her token ended and bob's working")
	}
	a, _ = newToken(t, s, "Alice")
	if !tokenWorks(t, s, a, "Alice", "") {
		t.Fatal("a token made after the new password does not work")
	}
	if err := s.SetPassword(ctx, "carol", "h"); !errors.Is(err, chat.ErrNoAccount) {
		t.Errorf("new password of no account: %v, want ErrNoAccount", err)
	}
	if err := s.DeleteAccount(ctx, "Alice"); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a, "Alice", "") || !tokenWorks(t, s, b, "bob", "") {
		t.Error("after Alice was deleted: want her token ended and bob's working")
	}
	// The name registered again is another account: the old tokens stay dead.
	if err := s.CreateAccount(ctx, account(t, "Alice", "h-again")); err != nil {
		t.Fatal(err)
	}
	if tokenWorks(t, s, a, "Alice", "") {
		t.Error("a token of the deleted account logs in to the new one")
	}
}

// TestTokensBounded: logging in again and again keeps at most a bounded number of tokens per
// account, the least recently made going first.
func TestTokensBounded(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	ctx := t.Context()
	if err := s.CreateAccount(ctx, account(t, "Alice", "h")); err != nil {
		t.Fatal(err)
	}
	first, _ := newToken(t, s, "Alice")
	var last string
	for range 60 {
		last, _ = newToken(t, s, "Alice")
	}
	var n int
	if err := rawDB(t, cfg.Path).QueryRowContext(ctx, `SELECT count(*) FROM web_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 50 || tokenWorks(t, s, first, "Alice", "") || !tokenWorks(t, s, last, "Alice", "") {
		t.Errorf("%d tokens kept; want at most 50, the newest working and the oldest gone", n)
	}
}
