// Opening a database: making its file private, the checks at open, migrating it (migrate.go),
// starting the store's goroutines; and closing it. Open takes no lock of the store (nothing
// else has it yet); Close takes Store.mu to stop the queue, then waits for the goroutines.

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens (making it if needed) the database at cfg.Path, brings its schema up to date and
// starts the writer. It fails with the path and the reason when the directory cannot be
// written or the file is not a sound database.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	def := DefaultConfig("")
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = def.QueueLimit
	}
	if cfg.MaxSearches <= 0 {
		cfg.MaxSearches = def.MaxSearches
	}
	if cfg.SearchWait <= 0 {
		cfg.SearchWait = def.SearchWait
	}
	if cfg.ErrorLogEvery <= 0 {
		cfg.ErrorLogEvery = def.ErrorLogEvery
	}
	fail := func(err error) error { return fmt.Errorf("history database %s: %w", cfg.Path, err) }
	if err := registerTerms(); err != nil { // before any connection: they get it when opened
		return nil, fail(err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fail(err)
	}
	if err := createPrivate(cfg.Path); err != nil {
		return nil, fail(err)
	}
	syncMode := "NORMAL"
	if cfg.Fsync {
		syncMode = "FULL"
	}
	dsn := "file:" + cfg.Path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + syncMode + ")"
	if cfg.MaxPages > 0 {
		dsn += fmt.Sprintf("&_pragma=max_page_count(%d)", cfg.MaxPages)
	}
	// The writer never checkpoints: a checkpoint copies the log into the database and syncs
	// it, which would stall the lines waiting behind the commit. checkpointLoop does it
	// on a connection of its own.
	// Its transactions take the write lock when they begin (BEGIN IMMEDIATE), waiting for it
	// as long as busy_timeout allows: a transaction that read first and then wrote would get
	// SQLITE_BUSY at once, without waiting, while another process (`hubbub account`) writes.
	wdb, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, fail(err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	s := &Store{cfg: cfg, log: log, wdb: wdb, wake: make(chan struct{}, 1), results: make(chan batch, 4),
		stop: make(chan struct{}), written: make(map[string]struct{}), searches: make(chan struct{}, cfg.MaxSearches)}
	s.notFull.L = &s.mu
	s.checkpointLog = repeatLog{log: log, level: slog.LevelWarn, msg: "history checkpoint failed",
		recovered: "history checkpoints work again", every: cfg.ErrorLogEvery}
	s.retainLog = repeatLog{log: log, level: slog.LevelError, msg: "history retention failed",
		recovered: "history retention works again", every: cfg.ErrorLogEvery}
	all := cfg.Check != CheckAccounts // a Check this package does not know gets the full one
	if all {
		if err := s.checkAll(ctx); err != nil {
			wdb.Close()
			return nil, fail(err)
		}
	}
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fail(err)
	}
	if !all {
		// After migrating: a database older than the accounts has no tables to check yet.
		if err := s.checkTables(ctx, "accounts", "web_sessions"); err != nil {
			wdb.Close()
			return nil, fail(err)
		}
	}
	if err := wdb.QueryRowContext(ctx, `SELECT last_indexed, (SELECT coalesce(max(id), 0) FROM messages) FROM fts_state`).Scan(&s.lastIndexed, &s.lastID); err != nil {
		wdb.Close()
		return nil, fail(err)
	}
	if err := s.prepareInserts(ctx); err != nil {
		wdb.Close()
		return nil, fail(err)
	}
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fail(err)
	}
	rdb.SetMaxOpenConns(4)
	s.rdb = rdb
	cdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fail(err)
	}
	cdb.SetMaxOpenConns(1)
	s.cdb = cdb
	s.stopped.Add(3)
	go s.writeLoop()
	go s.notifyLoop()
	go s.checkpointLoop()
	if cfg.RetainEvery > 0 {
		s.stopped.Add(1)
		go s.retainLoop()
	}
	return s, nil
}

// createPrivate makes an empty database file at path, readable and writable by its owner only
// whatever the umask, unless there is one: it holds private messages, and SQLite makes the
// write-ahead log and shared-memory files with the database file's permissions. An existing
// file keeps the permissions its owner gave it.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // the umask may have taken bits 0o600 asked for
		f.Close()
		return err
	}
	return f.Close()
}

// checkAll reads the database's header and pages: a file that is not a database, or a damaged
// one, is found at start rather than when the first line is lost.
func (s *Store) checkAll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	var result string
	if err := s.wdb.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&result); err != nil {
		return err
	}
	if result != "ok" {
		return fmt.Errorf("damaged: %s", result)
	}
	// Make sure the file can be written: a read-only file or directory fails here.
	if _, err := s.wdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS hubbub_write_check (x); DROP TABLE hubbub_write_check`); err != nil {
		return err
	}
	return nil
}

// checkTables reads the pages of the named tables and their indexes, and no others.
func (s *Store) checkTables(ctx context.Context, tables ...string) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	for _, table := range tables {
		var result string
		// A name of this package's, never a user's: PRAGMA takes no parameters.
		if err := s.wdb.QueryRowContext(ctx, `PRAGMA quick_check("`+table+`")`).Scan(&result); err != nil {
			return err
		}
		if result != "ok" {
			return fmt.Errorf("damaged: %s", result)
		}
	}
	return nil
}

// Err returns why the last write transaction failed, or nil if it did not: a full disk shows
// here until a write succeeds again.
func (s *Store) Err() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close writes what is queued, stops the store's goroutines and closes the database. Later
// calls return what the first returned.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.notFull.Broadcast()
		s.mu.Unlock()
		close(s.stop)
		s.nudge()
		s.stopped.Wait()
		for _, stmt := range append(s.inserts, s.indexes...) {
			if stmt != nil {
				stmt.Close()
			}
		}
		s.closeErr = errors.Join(s.rdb.Close(), s.cdb.Close(), s.wdb.Close())
	})
	return s.closeErr
}
