package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestAccountListWhileServerWrites runs `hubbub account list` while the running server's
// database is in the middle of a write transaction (held here, on a connection of the test's
// own, as a long history batch holds it): the command reads the accounts without waiting for
// the write lock, and says who is registered.
func TestAccountListWhileServerWrites(t *testing.T) {
	dir := t.TempDir()
	startProc(t, "", "--data-dir", dir)
	mustAccount(t, "first horse battery\n", "create", "alice", "--data-dir", dir)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "hubbub.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO bans (kind, value, display, until) VALUES ('name', 'held', 'held', 0)`); err != nil {
		t.Fatal(err)
	}

	r := runAccount(t, nil, "", "list", "--data-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "alice") {
		t.Errorf("list while the server writes: exit %d, stdout %q, stderr %q; want alice", r.code, r.stdout, r.stderr)
	}
}
