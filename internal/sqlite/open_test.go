package sqlite_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"hubbub/internal/sqlite"
)

// schemaVersion reads the database's schema cookie, which every change to its schema bumps,
// on a connection of the test's own.
func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`PRAGMA schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// holdWriteLock begins a write transaction on the database at path, as a server busy with a
// long one does, and keeps it until the test ends.
func holdWriteLock(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO bans (kind, value, display, until) VALUES ('name', 'held', 'held', 0)`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tx.Rollback()
		db.Close()
	})
}

// TestSecondOpenerBesideAServer opens the database of a running store, which is in the middle
// of a write transaction, as `hubbub account list` does: the open neither waits for the write
// lock nor changes the schema under the server's statements, and the accounts read.
func TestSecondOpenerBesideAServer(t *testing.T) {
	cfg := testConfig(t)
	server := open(t, cfg)
	store(t, server, line("go", "alice", "a line before the command", time.Now()))
	if err := server.CreateAccount(t.Context(), account(t, "alice", "hash")); err != nil {
		t.Fatal(err)
	}
	before := schemaVersion(t, cfg.Path)
	holdWriteLock(t, cfg.Path)

	second := cfg
	second.Check = sqlite.CheckAccounts
	// Well under the 10 s the writer's connection waits for the write lock, so a wait for it
	// fails this instead of succeeding late.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open beside a server writing: %v", err)
	}
	accounts, err := s.ListAccounts(ctx)
	if err != nil || len(accounts) != 1 || accounts[0].Name != "alice" {
		t.Errorf("ListAccounts = %v, %v; want alice", accounts, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if after := schemaVersion(t, cfg.Path); after != before {
		t.Errorf("the schema changed from version %d to %d under the server", before, after)
	}
	recs, err := server.Recent(t.Context(), "go", "", "", 0, 10)
	if err != nil || len(recs) != 1 {
		t.Errorf("the server reads %v, %v after the command; want its line", recs, err)
	}
}

// damage overwrites the first page of the named table or index of the (closed) database at
// path with bytes no page starts with.
func damage(t *testing.T, path, name string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	var root, size int64
	if err := db.QueryRow(`SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name = ?`, name).Scan(&root, &size); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// Everything into the database file, so that what is damaged there is what is read.
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xee", int(size))), (root-1)*size); err != nil {
		t.Fatal(err)
	}
}

// TestChecksAtOpen damages one index of a database: the server's open (CheckAll) reads every
// page and refuses it, naming the file; a command's (CheckAccounts) reads only the accounts'
// tables, so it works beside damaged history and refuses damaged accounts.
func TestChecksAtOpen(t *testing.T) {
	for _, tt := range []struct {
		damaged       string
		accountsOpens bool
	}{
		{"messages_room", true},
		{"accounts_key2", false},
		{"web_sessions_account", false},
	} {
		t.Run(tt.damaged, func(t *testing.T) {
			cfg := testConfig(t)
			s := open(t, cfg)
			store(t, s, line("go", "alice", "a line", time.Now()))
			if err := s.CreateAccount(t.Context(), account(t, "alice", "hash")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.CreateToken(t.Context(), "alice"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			damage(t, cfg.Path, tt.damaged)

			if s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.DiscardHandler)); err == nil {
				s.Close()
				t.Errorf("CheckAll opened a database with %s damaged", tt.damaged)
			} else if !strings.Contains(err.Error(), cfg.Path) {
				t.Errorf("CheckAll: %v does not name the file", err)
			}

			cfg.Check = sqlite.CheckAccounts
			s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
			switch {
			case tt.accountsOpens && err != nil:
				t.Errorf("CheckAccounts refused a database with only %s damaged: %v", tt.damaged, err)
			case tt.accountsOpens:
				if accounts, err := s.ListAccounts(t.Context()); err != nil || len(accounts) != 1 {
					t.Errorf("ListAccounts = %v, %v; want alice", accounts, err)
				}
				s.Close()
			case err == nil:
				s.Close()
				t.Errorf("CheckAccounts opened a database with %s damaged", tt.damaged)
			case !strings.Contains(err.Error(), cfg.Path):
				t.Errorf("CheckAccounts: %v does not name the file", err)
			}
		})
	}
}

// TestChecksRefuseWhatIsNoDatabase: a command's open, which reads little, still refuses a file
// that is not a database, with the path and the reason, as the server's does.
func TestChecksRefuseWhatIsNoDatabase(t *testing.T) {
	garbage := t.TempDir() + "/garbage.db"
	if err := os.WriteFile(garbage, []byte(strings.Repeat("this is not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, check := range []sqlite.Check{sqlite.CheckAll, sqlite.CheckAccounts} {
		cfg := sqlite.DefaultConfig(garbage)
		cfg.Check = check
		s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			s.Close()
		}
		if err == nil || !strings.Contains(err.Error(), garbage) || !strings.Contains(err.Error(), "not a database") {
			t.Errorf("Check %d: Open = %v, want an error with the path and \"not a database\"", check, err)
		}
	}
}
