package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/password"
	"hubbub/internal/sqlite"
)

func account(t *testing.T, name, hash string) chat.Account {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	return chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Unix(1700000000, 123456789)}
}

func parse(t *testing.T, name string) chat.Name {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func keys(t *testing.T, name string) [2]string {
	t.Helper()
	return parse(t, name).Keys()
}

func find(t *testing.T, s *sqlite.Store, name string) (chat.Account, bool) {
	t.Helper()
	a, ok, err := s.FindAccount(t.Context(), keys(t, name))
	if err != nil {
		t.Fatalf("find %q: %v", name, err)
	}
	return a, ok
}

// TestAccounts: an account is found by its name and every look-alike of it, by either of its
// keys; a look-alike cannot be registered beside it, even one whose first key is the other's
// second; its password changes; it is deleted.
func TestAccounts(t *testing.T) {
	s := open(t, testConfig(t))
	ctx := t.Context()
	for _, a := range []chat.Account{account(t, "Alice", "h-alice"), account(t, "biII", "h-bill"), account(t, "mike", "h-mike")} {
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatalf("create %s: %v", a.Name, err)
		}
	}
	for _, tc := range []struct{ typed, want string }{
		{"Alice", "Alice"},
		{"alice", "Alice"},
		{"ALICE", "Alice"}, // key1 only: its key2 is "allce"
		{"ａｌｉｃｅ", "Alice"}, // fullwidth
		{"ᴀlice", "Alice"}, // small capital
		{"biII", "biII"},   // two capital i
		{"bill", "biII"},   // key1 "bill" is biII's key2
		{"BIII", "biII"},   // key1 "biii" is biII's key1
		{"rnike", "mike"},  // r n looks like m
		{"bob", ""},        // no account
		{"Alicia", ""},     // not a look-alike
		{"bil", ""},        // a prefix is another name
		{"billy", ""},      // and so is a longer one
		{"mikee", ""},      //
		{"AIice", "Alice"}, // capital i for l
		{"A1ice", "Alice"}, // digit one for l
		{"Alise", ""},
	} {
		a, ok := find(t, s, tc.typed)
		if got := map[bool]string{true: a.Name}[ok]; got != tc.want {
			t.Errorf("find %q: %q; want %q", tc.typed, got, tc.want)
		}
	}
	a, _ := find(t, s, "alice")
	if want := account(t, "Alice", "h-alice"); a.Keys != want.Keys || a.Hash != "h-alice" || !a.Created.Equal(want.Created) {
		t.Errorf("found %+v; want %+v", a, want)
	}

	for _, name := range []string{"ALICE", "ᴀlice", "AIice", "bill", "BIII", "rnike", "Mike"} {
		err := s.CreateAccount(ctx, account(t, name, "h-"+name))
		if !errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("create look-alike %q: %v; want ErrAccountExists", name, err)
		}
	}
	if a, _ := find(t, s, "bill"); a.Hash != "h-bill" {
		t.Errorf("after the refusals, bill's account holds %q", a.Hash)
	}
	if err := s.CreateAccount(ctx, account(t, "bob", "h-bob")); err != nil {
		t.Fatal(err)
	}

	if err := s.SetPassword(ctx, "Alice", "h-alice-2"); err != nil {
		t.Fatal(err)
	}
	if a, _ := find(t, s, "ALICE"); a.Hash != "h-alice-2" {
		t.Errorf("after SetPassword the hash is %q", a.Hash)
	}
	if a, _ := find(t, s, "bob"); a.Hash != "h-bob" {
		t.Errorf("SetPassword of Alice changed bob's hash to %q", a.Hash)
	}
	// The name as registered, exactly: a look-alike could name another account.
	for _, name := range []string{"alice", "nobody"} {
		if err := s.SetPassword(ctx, name, "h-x"); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("SetPassword(%q): %v; want ErrNoAccount", name, err)
		}
		if err := s.DeleteAccount(ctx, name); !errors.Is(err, chat.ErrNoAccount) {
			t.Errorf("DeleteAccount(%q): %v; want ErrNoAccount", name, err)
		}
	}

	if err := s.DeleteAccount(ctx, "biII"); err != nil {
		t.Fatal(err)
	}
	if _, ok := find(t, s, "bill"); ok {
		t.Error("the deleted account is still found")
	}
	if err := s.CreateAccount(ctx, account(t, "bill", "h-new-bill")); err != nil {
		t.Errorf("a deleted account's name cannot be registered again: %v", err)
	}
	if a, _ := find(t, s, "Alice"); a.Hash != "h-alice-2" {
		t.Errorf("deleting biII touched Alice: %q", a.Hash)
	}
}

// TestAccountsRefuseIncomplete: an account without keys or hash would be found by nothing or
// opened by anything.
func TestAccountsRefuseIncomplete(t *testing.T) {
	s := open(t, testConfig(t))
	full := account(t, "alice", "h")
	for name, a := range map[string]chat.Account{
		"no name": {Keys: full.Keys, Hash: "h"},
		"no keys": {Name: "alice", Hash: "h"},
		"one key": {Name: "alice", Keys: [2]string{"alice", ""}, Hash: "h"},
		"no hash": {Name: "alice", Keys: full.Keys},
	} {
		if err := s.CreateAccount(t.Context(), a); err == nil || errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("%s: %v; want a refusal", name, err)
		}
	}
	if err := s.SetPassword(t.Context(), "alice", ""); err == nil {
		t.Error("an empty hash was set")
	}
	if _, ok := find(t, s, "alice"); ok {
		t.Error("an incomplete account was made")
	}
}

// TestAccountsConcurrentLookAlikes: look-alikes registered at once, one of them through a
// second store on the same file (the server and `hubbub account create`): exactly one wins.
func TestAccountsConcurrentLookAlikes(t *testing.T) {
	cfg := testConfig(t)
	s1, s2 := open(t, cfg), open(t, cfg)
	names := []string{"Alice", "alice", "ALICE", "ᴀlice", "ａｌｉｃｅ", "AIice", "A1ice", "alicE"}
	for _, a := range names {
		for _, b := range names {
			if x, y := parse(t, a), parse(t, b); !x.SameAs(y) {
				t.Fatalf("%q and %q are not look-alikes", a, b)
			}
		}
	}
	errs := make(chan error, len(names))
	for i, name := range names {
		s := []*sqlite.Store{s1, s2}[i%2]
		a := account(t, name, "h-"+name)
		go func() { errs <- s.CreateAccount(context.Background(), a) }()
	}
	won := 0
	for range names {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, chat.ErrAccountExists):
			t.Errorf("create: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d look-alikes registered; want 1", won)
	}
}

// TestAccountHashesOverwritten: a changed or deleted password's hash is not left in the file.
func TestAccountHashesOverwritten(t *testing.T) {
	cfg := testConfig(t)
	s, err := sqlite.Open(t.Context(), cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	old, err := password.Hash("an old password")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := password.Hash("a deleted password")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.CreateAccount(ctx, account(t, "alice", old)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, account(t, "bob", gone)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "alice", strings.Repeat("x", len(old))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{old, gone} {
		salt := strings.Split(h, "$")[4]
		if bytes.Contains(file, []byte(salt)) {
			t.Errorf("the database file still holds the hash %s", h)
		}
	}
}

// TestMigrateAccountsFromVersion3: a database as the last hubbub without accounts left it
// gains the accounts table and keeps its lines.
func TestMigrateAccountsFromVersion3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubbub.db")
	if err := sqlite.MakeAtVersion(t.Context(), path, 3); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, text) VALUES
		(1, 'chat', 'go', '#go', 'alice', 'alice', 'before accounts')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cfg := sqlite.DefaultConfig(path)
	cfg.RetainEvery = 0
	s := open(t, cfg)
	if recs, err := s.Recent(t.Context(), "go", "", "", 0, 10); err != nil || len(recs) != 1 {
		t.Errorf("the room's lines after the migration: %d (%v)", len(recs), err)
	}
	if _, ok := find(t, s, "alice"); ok {
		t.Error("an account nobody registered")
	}
	if err := s.CreateAccount(t.Context(), account(t, "alice", "h")); err != nil {
		t.Fatal(err)
	}
	if a, ok := find(t, s, "ALICE"); !ok || a.Name != "alice" {
		t.Errorf("after the migration: %+v, %v", a, ok)
	}
	assertIntact(t, path)
}

// TestAccountKeysCross: one key column's unique index does not see the other column; a name
// whose first key is an account's second (or the reverse) is still a look-alike.
func TestAccountKeysCross(t *testing.T) {
	for _, tc := range []struct{ registered, next string }{
		{"biII", "BILL"}, // ["biii" "bill"], then ["bill" "blll"]
		{"BILL", "biII"}, // the reverse
	} {
		s := open(t, testConfig(t))
		r, n := keys(t, tc.registered), keys(t, tc.next)
		if r[0] == n[0] || r[1] == n[1] || (r[0] != n[1] && r[1] != n[0]) {
			t.Fatalf("%q %q and %q %q: not a case of one key equal across columns only", tc.registered, r, tc.next, n)
		}
		if err := s.CreateAccount(t.Context(), account(t, tc.registered, "h")); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateAccount(t.Context(), account(t, tc.next, "h")); !errors.Is(err, chat.ErrAccountExists) {
			t.Errorf("%q after %q: %v; want ErrAccountExists", tc.next, tc.registered, err)
		}
	}
}
