package sqlite_test

import (
	"bytes"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"hubbub/internal/sqlite"
)

// TestMigrationForgetsPrivateByName opens a database as schema version 2 left it, with
// private messages kept under names: the migration deletes them, overwrites their bytes, and
// keeps the room's lines.
func TestMigrationForgetsPrivateByName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubbub.db")
	if err := sqlite.MakeAtVersion(t.Context(), path, 2); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, text) VALUES
			(1, 'chat', 'go', '#go', 'alice', 'alice', 'a line for the room')`,
		`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, recipient, pair, text) VALUES
			(2, 'private', '', '', 'carol', 'carol', 'dave', 'carol' || char(10) || 'dave', 'my password is hunter2'),
			(3, 'private', '', '', 'dave', 'dave', 'carol', 'carol' || char(10) || 'dave', 'the vault code is 4711')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	cfg := sqlite.DefaultConfig(path)
	cfg.RetainEvery = 0
	s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := s.Recent(t.Context(), "", "carol", "dave", 0, 10); err != nil || len(recs) != 0 {
		t.Errorf("private messages after the migration: %d (%v)", len(recs), err)
	}
	if recs, err := s.Recent(t.Context(), "go", "", "", 0, 10); err != nil || len(recs) != 1 {
		t.Errorf("the room's lines after the migration: %d (%v)", len(recs), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "4711"} {
		if bytes.Contains(file, []byte(secret)) {
			t.Errorf("the database file still holds %q", secret)
		}
	}
}
