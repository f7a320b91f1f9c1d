package sqlite_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

// TestMigrateAccountsFromVersion4: accounts made by the hubbub of schema version 4 keep their
// ids, names, keys, hashes and dates, are no operators, are still found by look-alikes and
// still cannot be registered twice; the copy the migration leaves behind of a hash is
// overwritten, so a password changed afterwards leaves no trace of its old hash in the file.
func TestMigrateAccountsFromVersion4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubbub.db")
	if err := sqlite.MakeAtVersion(t.Context(), path, 4); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const oldHash = "old-hash-of-alice-9f8e7d6c5b4a"
	alice, bob := account(t, "Alice", oldHash), account(t, "bob", "hash-of-bob")
	for id, a := range map[int64]chat.Account{3: alice, 7: bob} {
		if _, err := db.Exec(`INSERT INTO accounts (id, name, key1, key2, hash, created) VALUES (?, ?, ?, ?, ?, ?)`,
			id, a.Name, a.Keys[0], a.Keys[1], a.Hash, a.Created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	// Enough more that the old table spans pages, some of which the new indexes do not reuse.
	for i := range 300 {
		a := account(t, fmt.Sprintf("user%d", i), fmt.Sprintf("hash-%d-%s", i, strings.Repeat("x", 80)))
		if _, err := db.Exec(`INSERT INTO accounts (name, key1, key2, hash, created) VALUES (?, ?, ?, ?, ?)`,
			a.Name, a.Keys[0], a.Keys[1], a.Hash, a.Created.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	cfg := sqlite.DefaultConfig(path)
	cfg.RetainEvery = 0
	s, err := sqlite.Open(t.Context(), cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		typed string
		want  chat.Account
		id    int64
	}{{"ALICE", alice, 3}, {"bob", bob, 7}} {
		got, ok := find(t, s, tc.typed)
		tc.want.ID = tc.id
		if !ok || got.ID != tc.want.ID || got.Name != tc.want.Name || got.Keys != tc.want.Keys ||
			got.Hash != tc.want.Hash || !got.Created.Equal(tc.want.Created) || got.Oper {
			t.Errorf("%s after the migration: %+v, %v; want %+v", tc.typed, got, ok, tc.want)
		}
	}
	if err := s.CreateAccount(t.Context(), account(t, "ａｌｉｃｅ", "h")); !errors.Is(err, chat.ErrAccountExists) {
		t.Errorf("a look-alike registered after the migration: %v", err)
	}
	for _, name := range []string{"Alice", "bob"} {
		if err := s.SetPassword(t.Context(), name, "new-hash"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if err := s.SetPassword(t.Context(), fmt.Sprintf("user%d", i), "new-hash"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertIntact(t, path)
	check, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var indexes int
	if err := check.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'accounts'
		AND name IN ('accounts_key1', 'accounts_key2')`).Scan(&indexes); err != nil || indexes != 2 {
		t.Errorf("unique key indexes after the migration: %d (%v); want 2", indexes, err)
	}
	check.Close()
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(file, []byte("hash-")) + bytes.Count(file, []byte(oldHash)); n > 0 {
		t.Errorf("the database file still holds %d old hashes", n)
	}
}

// TestAccountIDNotReused: an account registered after the newest one was deleted gets a new
// id, also when the store was closed between: private history kept under the old id must
// never become the new account's.
func TestAccountIDNotReused(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	for _, name := range []string{"alice", "bob"} {
		if err := s.CreateAccount(t.Context(), account(t, name, "h")); err != nil {
			t.Fatal(err)
		}
	}
	bob, _ := find(t, s, "bob")
	if err := s.DeleteAccount(t.Context(), "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, cfg)
	for _, name := range []string{"bob", "carol"} {
		if err := s.CreateAccount(t.Context(), account(t, name, "h")); err != nil {
			t.Fatal(err)
		}
		if a, _ := find(t, s, name); a.ID <= bob.ID {
			t.Errorf("%s registered after the deleted bob (id %d) got id %d", name, bob.ID, a.ID)
		}
	}
}

// TestListAccountsAndSetOper: accounts are listed by name, upper and lower case together,
// without hashes; an account is
// marked an operator and unmarked, and FindAccount says so; an unknown name is ErrNoAccount.
func TestListAccountsAndSetOper(t *testing.T) {
	s := open(t, testConfig(t))
	ctx := t.Context()
	if got, err := s.ListAccounts(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no accounts: %+v, %v", got, err)
	}
	for _, name := range []string{"carol", "Dave", "Alice", "bob"} {
		if err := s.CreateAccount(ctx, account(t, name, "hash-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetOper(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOper(ctx, "bob", true); err != nil { // already: no error
		t.Fatalf("again: %v", err)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
		if a.Hash != "" || a.ID == 0 || a.Created.IsZero() || a.Keys[0] == "" {
			t.Errorf("listed %+v: want an id, keys and a date, and no hash", a)
		}
		if a.Oper != (a.Name == "bob") {
			t.Errorf("listed %s with oper %v", a.Name, a.Oper)
		}
	}
	if want := []string{"Alice", "bob", "carol", "Dave"}; !slices.Equal(names, want) {
		t.Errorf("listed %q; want %q", names, want)
	}
	for _, tc := range []struct {
		oper bool
	}{{true}, {false}} {
		if err := s.SetOper(ctx, "Alice", tc.oper); err != nil {
			t.Fatal(err)
		}
		if a, _ := find(t, s, "alice"); a.Oper != tc.oper {
			t.Errorf("after SetOper(%v): oper %v", tc.oper, a.Oper)
		}
	}
	for _, name := range []string{"dave", "alice"} { // exactly as registered, as SetPassword
		if err := s.SetOper(ctx, name, true); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("SetOper(%q): %v; want ErrNoAccount", name, err)
		}
	}
}
