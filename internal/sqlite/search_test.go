package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

// TestSearchPages searches a room page by page, newest first, with the matches counted up to
// the cap asked for; other rooms' lines, even of rooms whose names differ only in
// punctuation, never match.
func TestSearchPages(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	now := time.Now()
	var ids []int64 // of the matches in "tall", oldest first
	for i := range 26 {
		ids = append(ids, store(t, s, line("tall", "alice", fmt.Sprintf("match %d here", i), now)).ID)
		store(t, s, line("tall", "alice", "no luck", now))
		for _, other := range []string{"tall-x", "tall.x", "x-tall", "Tall"} {
			store(t, s, line(other, "bob", fmt.Sprintf("match %d there", i), now))
		}
	}
	store(t, s, line("tall x", "bob", "match in a room named like a phrase", now))
	store(t, s, line("r"+strings.Repeat("0", 8), "bob", "match", now)) // a room named like a token

	ctx := t.Context()
	for _, tt := range []struct {
		name    string
		before  int64
		n, cap  int
		first   int // the number of the newest match returned
		got     int
		matches int
		capped  bool
	}{
		{"first page, all counted", 0, 20, 1000, 25, 20, 26, false},
		{"second page", ids[6], 20, 1000, 5, 6, 6, false},
		{"counted up to a cap", 0, 20, 22, 25, 20, 22, true},
		{"cap below the page", 0, 20, 5, 25, 20, 20, true},
		{"exactly the cap", 0, 5, 26, 25, 5, 26, false},
		{"nothing older", ids[0], 20, 1000, 0, 0, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.Search(ctx, chat.SearchQuery{Room: "tall", Words: "MATCH", Before: tt.before, N: tt.n, Count: tt.cap})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Records) != tt.got || page.Matches != tt.matches || page.Capped != tt.capped {
				t.Fatalf("got %d records, %d matches, capped %v; want %d, %d, %v",
					len(page.Records), page.Matches, page.Capped, tt.got, tt.matches, tt.capped)
			}
			for i, r := range page.Records {
				if want := fmt.Sprintf("match %d here", tt.first-i); r.Text != want || r.Room != "tall" || r.ID != ids[tt.first-i] {
					t.Fatalf("record %d = %+v, want %q", i, r, want)
				}
			}
		})
	}
	for _, room := range []string{"tall-x", "Tall"} {
		page, err := s.Search(ctx, chat.SearchQuery{Room: room, Words: "match there", N: 100, Count: 1000})
		if err != nil || len(page.Records) != 26 || page.Matches != 26 {
			t.Errorf("%s: %d records, %d matches, %v; want 26", room, len(page.Records), page.Matches, err)
		}
	}
	// Words are folded as they were before the room went into the index.
	if got, err := search(t, s, "tall", 0, "MÀTCH 25 Here", 10); err != nil || texts(got) != "match 25 here" {
		t.Errorf("search folding case and diacritics found %s, %v", texts(got), err)
	}
	assertIntact(t, cfg.Path)
}

// TestSearchBusy runs more searches at once than the store allows: the one over the bound
// waits its turn, then is told the store is busy, while the others go on.
func TestSearchBusy(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxSearches = 1
	cfg.SearchWait = 100 * time.Millisecond
	s := open(t, cfg)
	store(t, s, line("go", "alice", "waiting for the index", time.Now())) // not indexed yet

	// Another connection holds the database's write lock, so the writer cannot index, and
	// the first search waits for it, holding its turn.
	lock := lockDatabase(t, cfg.Path)
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Search(t.Context(), chat.SearchQuery{Room: "go", Words: "index", N: 5})
			results <- err
		}()
	}
	// The search that has the turn cannot end while the lock is held: the first to end is the
	// one over the bound.
	if err := <-results; !errors.Is(err, chat.ErrBusy) {
		t.Errorf("the search over the bound: %v, want chat.ErrBusy", err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatalf("the search that had its turn: %v", err)
	}
	if got, err := search(t, s, "go", 0, "index", 5); err != nil || texts(got) != "waiting for the index" {
		t.Fatalf("after the lock: %s, %v", texts(got), err)
	}
}

// lockDatabase takes the write lock of the database at path until the transaction ends.
func lockDatabase(t *testing.T, path string) *sql.Tx {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(`INSERT INTO bans VALUES ('name', 'lock', 'lock', 0)`); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestMigrateOldSearchIndex opens a database made by the first schema, its full-text index
// made as that hubbub made it: the index is rebuilt with the room in it, and search finds
// what was indexed before and what was not yet.
func TestMigrateOldSearchIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubbub.db")
	schema, err := os.ReadFile("migrations/0001_history.sql")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		string(schema),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, '0001_history.sql', 0)`,
		`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, text) VALUES
			(1, 'chat', 'go', '#go', 'alice', 'alice', 'old gophers 1'),
			(2, 'join', 'go', '#go', 'bob', 'bob', 'gophers'),
			(3, 'action', 'go', '#go', 'alice', 'alice', 'waves at gophers'),
			(4, 'chat', 'rust', '#rust', 'carol', 'carol', 'gophers elsewhere'),
			(5, 'chat', 'go', '#go', 'alice', 'alice', 'old gophers 2')`,
		`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, pair, text) VALUES
			(6, 'private', '', '', 'alice', 'alice', 'alice' || char(10) || 'bob', 'secret gophers')`,
		// Indexed as the first schema's writer indexed: the last line waits for the next batch.
		`INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE id <= 4 AND kind IN ('chat', 'action')`,
		`UPDATE fts_state SET last_indexed = 4`,
		`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, text) VALUES
			(7, 'chat', 'go', '#go', 'bob', 'bob', 'new gophers')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	cfg := sqlite.DefaultConfig(path)
	cfg.RetainEvery = 0
	s := open(t, cfg)
	got, err := search(t, s, "go", 0, "gophers", 10)
	if err != nil || texts(got) != "new gophers|old gophers 2|waves at gophers|old gophers 1" {
		t.Fatalf("search after the migration: %s, %v", texts(got), err)
	}
	if got, err := search(t, s, "rust", 0, "gophers", 10); err != nil || texts(got) != "gophers elsewhere" {
		t.Fatalf("search of another room: %s, %v", texts(got), err)
	}
	// Retention's deletes give the rebuilt index back what it holds.
	cfg.MaxRows = 1
	s.Close()
	s = open(t, cfg)
	store(t, s, line("go", "alice", "newest gophers", time.Now()))
	if _, err := s.Retain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := search(t, s, "go", 0, "gophers", 10); err != nil || texts(got) != "newest gophers" {
		t.Fatalf("search after retention: %s, %v", texts(got), err)
	}
	assertIntact(t, path)
}
