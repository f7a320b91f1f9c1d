package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(t *testing.T, cfg sqlite.Config) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testConfig(t *testing.T) sqlite.Config {
	cfg := sqlite.DefaultConfig(filepath.Join(t.TempDir(), "sub", "hubbub.db"))
	cfg.RetainEvery = 0
	return cfg
}

// store stores r and waits until it is kept.
func store(t *testing.T, s *sqlite.Store, r chat.Record) chat.Record {
	t.Helper()
	got := make(chan chat.Record, 1)
	errs := make(chan error, 1)
	s.Store(r, func(r chat.Record, err error) {
		got <- r
		errs <- err
	})
	select {
	case r := <-got:
		if err := <-errs; err != nil {
			t.Fatalf("store %+v: %v", r, err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("store: done never called")
	}
	return chat.Record{}
}

func line(room, from, text string, at time.Time) chat.Record {
	return chat.Record{Time: at, Kind: chat.KindChat, Room: room, RoomName: "#" + room, From: from, FromKey: from, Text: text}
}

func TestStoreAndRead(t *testing.T) {
	s := open(t, testConfig(t))
	now := time.Now()
	var last int64
	for i := range 30 {
		r := store(t, s, line("go", "alice", fmt.Sprintf("line %d about gophers", i), now))
		if r.ID <= last {
			t.Fatalf("ids do not increase: %d after %d", r.ID, last)
		}
		last = r.ID
	}
	s.Note(chat.Record{Time: now, Kind: chat.KindJoin, Room: "go", RoomName: "#go", From: "bob", FromKey: "bob"})
	topic := store(t, s, chat.Record{Time: now, Kind: chat.KindTopic, Room: "go", RoomName: "#go", From: "alice", FromKey: "alice", Text: "Go"})
	store(t, s, line("rust", "carol", "crabs and gophers", now))
	pm := store(t, s, chat.Record{Time: now, Kind: chat.KindPrivate, From: "alice", FromKey: "alice", To: "bob", ToKey: "bob", Text: "psst"})

	ctx := t.Context()
	recent, err := s.Recent(ctx, "go", "", "", 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	// The newest five, oldest first; the join is not a line to replay.
	want := []string{"line 26 about gophers", "line 27 about gophers", "line 28 about gophers", "line 29 about gophers", "Go"}
	if texts(recent) != strings.Join(want, "|") {
		t.Fatalf("Recent = %s, want %s", texts(recent), strings.Join(want, "|"))
	}
	if recent[4].ID != topic.ID || recent[4].Kind != chat.KindTopic || recent[0].RoomName != "#go" || !recent[0].Time.Equal(now) {
		t.Errorf("Recent returned %+v", recent)
	}
	earlier, err := s.Recent(ctx, "go", "", "", recent[0].ID, 3)
	if err != nil || texts(earlier) != "line 23 about gophers|line 24 about gophers|line 25 about gophers" {
		t.Fatalf("Recent before %d = %s, %v", recent[0].ID, texts(earlier), err)
	}

	found, err := search(t, s, "go", 0, "GOPHERS line 2", 3)
	if err != nil || texts(found) != "line 2 about gophers" {
		t.Fatalf("Search = %s, %v", texts(found), err)
	}
	found, err = search(t, s, "go", 0, "gophers", 2)
	if err != nil || texts(found) != "line 29 about gophers|line 28 about gophers" {
		t.Fatalf("Search, newest first = %s, %v", texts(found), err)
	}
	// What a user types is words, never query syntax.
	for _, q := range []string{`"`, `NEAR(`, `text:x OR *`, `-`, `a AND`} {
		if _, err := search(t, s, "go", 0, q, 5); err != nil {
			t.Errorf("Search(%q): %v", q, err)
		}
	}

	private, err := s.Recent(ctx, "", "bob", "alice", 0, 10)
	if err != nil || len(private) != 1 || private[0].ID != pm.ID || private[0].ToKey != "bob" || private[0].To != "bob" {
		t.Fatalf("private history = %+v, %v", private, err)
	}
	if other, _ := s.Recent(ctx, "", "carol", "alice", 0, 10); len(other) != 0 {
		t.Errorf("carol reads alice's private messages: %+v", other)
	}
}

// search returns the n newest lines of room older than the ID before that match words.
func search(tb testing.TB, s *sqlite.Store, room string, before int64, words string, n int) ([]chat.Record, error) {
	tb.Helper()
	page, err := s.Search(tb.Context(), chat.SearchQuery{Room: room, Words: words, Before: before, N: n})
	return page.Records, err
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func texts(recs []chat.Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Text)
	}
	return strings.Join(out, "|")
}

func TestReopenKeepsEverything(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	r := store(t, s, line("go", "alice", "before the restart", time.Now()))
	until := time.Now().Add(time.Hour).Round(0)
	s.SaveBan(chat.Ban{Name: "Mallory", Until: until})
	s.SaveBan(chat.Ban{Address: netip.MustParsePrefix("10.0.0.0/8")})
	s.SaveBan(chat.Ban{Name: "eve"})
	s.DeleteBan(chat.Ban{Name: "EVE"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, cfg) // migrations already applied: nothing to do, nothing lost
	got, err := s.Recent(t.Context(), "go", "", "", 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	bans, err := s.Bans(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(bans) != 2 {
		t.Fatalf("bans = %+v, want Mallory and 10.0.0.0/8", bans)
	}
	for _, b := range bans {
		switch {
		case b.Name == "Mallory" && b.Until.Equal(until):
		case b.Name == "" && b.Address.String() == "10.0.0.0/8" && b.Until.IsZero():
		default:
			t.Errorf("unexpected ban %+v", b)
		}
	}
	next := store(t, s, line("go", "alice", "after", time.Now()))
	if next.ID <= r.ID {
		t.Errorf("id %d after restart is not above %d", next.ID, r.ID)
	}
}

func TestRetention(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxAge = 24 * time.Hour
	cfg.MaxRows = 3
	s := open(t, cfg)
	old := time.Now().Add(-48 * time.Hour)
	for i := range 5 {
		store(t, s, line("attic", "alice", fmt.Sprintf("old %d dusty", i), old))
	}
	for i := range 5 {
		store(t, s, line("go", "alice", fmt.Sprintf("new %d fresh", i), time.Now()))
	}
	store(t, s, line("quiet", "bob", "only line", time.Now()))
	deleted, err := s.Retain(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 7 {
		t.Errorf("deleted %d lines, want 5 too old and 2 over the room's 3", deleted)
	}
	ctx := t.Context()
	for room, want := range map[string]string{"attic": "", "go": "new 2 fresh|new 3 fresh|new 4 fresh", "quiet": "only line"} {
		got, err := s.Recent(ctx, room, "", "", 0, 10)
		if err != nil || texts(got) != want {
			t.Errorf("%s after retention: %s, %v; want %s", room, texts(got), err, want)
		}
	}
	// Deleted lines leave the search index too.
	if got, _ := search(t, s, "attic", 0, "dusty", 10); len(got) != 0 {
		t.Errorf("search finds deleted lines: %+v", got)
	}
	if got, _ := search(t, s, "go", 0, "fresh", 10); texts(got) != "new 4 fresh|new 3 fresh|new 2 fresh" {
		t.Errorf("search after retention: %s", texts(got))
	}
	assertIntact(t, cfg.Path)
}

// assertIntact runs SQLite's own integrity checks on the database file, the full-text index
// included.
func assertIntact(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity_check: %q, %v", result, err)
	}
	if _, err := db.Exec(`INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("full-text index: %v", err)
	}
}

func TestOpenRefusesWithPathAndReason(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(dir, "future.db")
	s := open(t, sqlite.DefaultConfig(future))
	s.Close()
	db, err := sql.Open("sqlite", future)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (999, '999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, tt := range []struct{ path, reason string }{
		{filepath.Join(notDir, "hubbub.db"), "not a directory"},
		{garbage, "not a database"},
		{future, "newer than this hubbub"},
	} {
		_, err := sqlite.Open(t.Context(), sqlite.DefaultConfig(tt.path), slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("Open(%s) = %v, want an error with the path and %q", tt.path, err, tt.reason)
		}
	}
}

// TestFullDisk fills the database to its cap: each line that cannot be kept is reported as
// failed, nothing panics, and the store still closes cleanly.
func TestFullDisk(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxPages = 40
	s := open(t, cfg)
	big := strings.Repeat("x", 2000)
	failed := false
	for i := 0; i < 1000 && !failed; i++ {
		errs := make(chan error, 1)
		s.Store(line("go", "alice", fmt.Sprint(i, big), time.Now()), func(_ chat.Record, err error) { errs <- err })
		select {
		case err := <-errs:
			failed = err != nil
			if failed && !strings.Contains(err.Error(), "full") {
				t.Errorf("error %v does not say the database is full", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("done never called")
		}
	}
	if !failed {
		t.Fatal("a database capped at 40 pages took 1000 lines of 2 KB")
	}
	if _, err := s.Recent(context.Background(), "go", "", "", 0, 5); err != nil {
		t.Errorf("reading a full database: %v", err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
}

// TestBatchIDs queues many lines at once, so that they are written together with multi-row
// inserts: each is told the id it has in the database.
func TestBatchIDs(t *testing.T) {
	s := open(t, testConfig(t))
	const n = 333
	type told struct {
		r   chat.Record
		err error
	}
	results := make(chan told, n)
	for i := range n {
		s.Store(line("go", "alice", fmt.Sprint("batched ", i), time.Now()), func(r chat.Record, err error) { results <- told{r, err} })
		if i%100 == 0 {
			s.Note(chat.Record{Time: time.Now(), Kind: chat.KindJoin, Room: "go", RoomName: "#go", From: "x", FromKey: "x"})
		}
	}
	ids := map[string]int64{}
	var last int64
	for range n {
		got := <-results
		if got.err != nil {
			t.Fatal(got.err)
		}
		if got.r.ID <= last {
			t.Fatalf("told ids out of order: %d after %d", got.r.ID, last)
		}
		last = got.r.ID
		ids[got.r.Text] = got.r.ID
	}
	recs, err := s.Recent(t.Context(), "go", "", "", 0, n)
	if err != nil || len(recs) != n {
		t.Fatalf("Recent: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if ids[r.Text] != r.ID {
			t.Fatalf("%q was told id %d but has %d", r.Text, ids[r.Text], r.ID)
		}
	}
}
