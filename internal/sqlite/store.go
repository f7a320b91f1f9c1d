// Package sqlite keeps chat history and bans in an embedded SQLite database
// (modernc.org/sqlite, no cgo). It implements chat.History.
//
// Writes go through one goroutine that groups whatever is queued into one transaction: while
// a transaction commits, more lines arrive, and the next transaction takes them all. So a
// quiet server commits each line at once, and a busy one commits thousands in one go, and
// durability never costs a commit per line. A line's done callback runs only after its
// transaction committed; the chat shows the line to nobody before that.
//
// What survives what: the database runs in WAL mode. With synchronous=NORMAL (the default) a
// committed transaction is in the WAL file, in the OS page cache, before anyone sees the line,
// so killing the server (kill -9, a crash, an OOM kill) loses nothing shown; a power failure
// or kernel crash may lose the last transactions before the next checkpoint. With Fsync
// (synchronous=FULL) each commit waits for the disk, and a power failure loses nothing shown.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"hubbub/internal/chat"
)

// Config configures the store.
type Config struct {
	Path  string // the database file; its directory is made if missing
	Fsync bool   // wait for the disk at each commit (synchronous=FULL)

	MaxAge  time.Duration // lines older than this are deleted; 0: kept forever
	MaxRows int           // lines kept per room, the oldest deleted first; 0: no limit
	// RetainEvery is how often retention runs in the background; 0: never (tests call Retain).
	RetainEvery time.Duration

	// QueueLimit is how many lines may wait to be written before Store blocks its caller.
	QueueLimit int
	// MaxPages caps the database's size in pages (PRAGMA max_page_count), for tests of a full
	// disk; 0: no cap.
	MaxPages int

	// MaxSearches is how many searches may run at once; SearchWait is how long one more waits
	// for its turn before it fails with chat.ErrBusy. 0: the defaults.
	MaxSearches int
	SearchWait  time.Duration

	// ErrorLogEvery is how often a failure that repeats (a checkpoint, retention) is logged at
	// most, with a count; 0: a minute.
	ErrorLogEvery time.Duration

	// Observer, when set, is told of each write transaction.
	Observer Observer
}

// Observer is told of each write transaction, for metrics: the lines it wrote, how long it
// took, and whether it failed.
type Observer interface {
	HistoryWritten(lines int, took time.Duration, err error)
}

// DefaultConfig returns the defaults documented in --help, for a database at path.
func DefaultConfig(path string) Config {
	return Config{Path: path, MaxAge: 90 * 24 * time.Hour, MaxRows: 1_000_000, RetainEvery: time.Minute, QueueLimit: 10_000,
		MaxSearches: 2, SearchWait: time.Second, ErrorLogEvery: time.Minute}
}

// Bounds on the work done at once.
const (
	maxBatch     = 2000 // operations in one write transaction
	deleteChunk  = 2000 // rows one retention transaction deletes
	checkTimeout = 30 * time.Second
)

// ErrClosed is what Store reports for a line given after Close.
var ErrClosed = errors.New("history is closed")

// Store is the SQLite history.
type Store struct {
	cfg Config
	log *slog.Logger
	wdb *sql.DB // the writer's single connection
	rdb *sql.DB // connections for reads, which WAL lets run beside the writer
	cdb *sql.DB // the checkpointer's connection

	mu      sync.Mutex
	notFull sync.Cond           // signalled when the queue shrinks; uses mu
	queue   []op                // guarded by mu
	closing bool                // guarded by mu
	written map[string]struct{} // rooms written since retention last looked; guarded by mu
	wake    chan struct{}

	results   chan batch // written batches, for the notifier to report in order
	stop      chan struct{}
	stopped   sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	lastErr   atomic.Pointer[error] // of the last write transaction
	searches  chan struct{}         // a token per search running

	checkpointLog, retainLog repeatLog

	// Used only by the writer goroutine (and by Open before it starts).
	lastID      int64       // the newest message's id
	lastIndexed int64       // messages up to this id are in the full-text index
	inserts     []*sql.Stmt // INSERT statements by rows
}

// op is one thing for the writer to do.
type op struct {
	rec       *chat.Record
	done      func(chat.Record, error)
	ban       *chat.Ban
	deleteBan bool
	purge     *purge        // retention: delete some old rows
	index     chan struct{} // bring the full-text index up to date, then close this
}

type batch struct {
	ops []op
	err error
}

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
	if err := s.check(ctx); err != nil {
		wdb.Close()
		return nil, fail(err)
	}
	if err := migrate(ctx, wdb); err != nil {
		wdb.Close()
		return nil, fail(err)
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

// check reads the database's header and pages: a file that is not a database, or a damaged
// one, is found at start rather than when the first line is lost.
func (s *Store) check(ctx context.Context) error {
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
		for _, stmt := range s.inserts {
			if stmt != nil {
				stmt.Close()
			}
		}
		s.closeErr = errors.Join(s.rdb.Close(), s.cdb.Close(), s.wdb.Close())
	})
	return s.closeErr
}

func (s *Store) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Store implements chat.History.
func (s *Store) Store(r chat.Record, done func(chat.Record, error)) {
	s.mu.Lock()
	for len(s.queue) >= s.cfg.QueueLimit && !s.closing {
		s.notFull.Wait()
	}
	if s.closing {
		s.mu.Unlock()
		if done != nil {
			done(r, ErrClosed)
		}
		return
	}
	s.queue = append(s.queue, op{rec: &r, done: done})
	s.noteRoomLocked(r.Room)
	s.mu.Unlock()
	s.nudge()
}

// Note implements chat.History.
func (s *Store) Note(r chat.Record) { s.enqueue(op{rec: &r}) }

// noteRoomLocked remembers that room has new lines, for retention to look at.
func (s *Store) noteRoomLocked(room string) {
	if room != "" && s.cfg.MaxRows > 0 {
		s.written[room] = struct{}{}
	}
}

// SaveBan implements chat.History.
func (s *Store) SaveBan(b chat.Ban) { s.enqueue(op{ban: &b}) }

// DeleteBan implements chat.History.
func (s *Store) DeleteBan(b chat.Ban) { s.enqueue(op{ban: &b, deleteBan: true}) }

// enqueue queues o whatever the queue's length: callers hold locks and must not wait.
func (s *Store) enqueue(o op) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	s.nudge()
}

// writeLoop writes what is queued, a transaction at a time, until Close.
func (s *Store) writeLoop() {
	defer s.stopped.Done()
	defer close(s.results)
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxBatch)
		ops := make([]op, n)
		copy(ops, s.queue)
		s.queue = append(s.queue[:0], s.queue[n:]...)
		closing := s.closing
		s.notFull.Broadcast()
		s.mu.Unlock()
		if n == 0 {
			if closing {
				return
			}
			<-s.wake
			continue
		}
		start := time.Now()
		err := s.write(ops)
		s.lastErr.Store(&err)
		if s.cfg.Observer != nil {
			lines := 0
			for _, o := range ops {
				if o.rec != nil {
					lines++
				}
			}
			s.cfg.Observer.HistoryWritten(lines, time.Since(start), err)
		}
		s.results <- batch{ops: ops, err: err}
	}
}

// notifyLoop tells the owners of written lines, in order, so that the writer can go on with
// the next transaction meanwhile.
func (s *Store) notifyLoop() {
	defer s.stopped.Done()
	for b := range s.results {
		for _, o := range b.ops {
			if o.done != nil {
				o.done(*o.rec, b.err)
			}
			if o.purge != nil {
				o.purge.finish(b.err)
			}
			if o.index != nil {
				close(o.index)
			}
		}
	}
}

// rowsPerInsert is how many lines one INSERT statement writes: one statement of many rows
// costs half as much per row as as many statements of one.
const rowsPerInsert = 50

// inserter writes records with multi-row INSERT statements. The rows of one statement get
// consecutive ids (this is the database's only writer), so each record's id follows from the
// statement's last.
type inserter struct {
	s       *Store
	tx      *sql.Tx
	ids     []int64 // by op index
	last    int64   // the last id written
	pending []int   // op indexes of the rows not yet written
	args    []any   // their values
}

func (in *inserter) add(ctx context.Context, i int, r *chat.Record) error {
	pair := ""
	if r.Kind == chat.KindPrivate {
		pair = pairKey(r.FromKey, r.ToKey)
	}
	in.pending = append(in.pending, i)
	in.args = append(in.args, r.Time.UnixNano(), kindName(r.Kind), r.Room, r.RoomName, r.From, r.FromKey, r.To, pair, r.Text)
	if len(in.pending) == rowsPerInsert {
		return in.flush(ctx)
	}
	return nil
}

func (in *inserter) flush(ctx context.Context) error {
	n := len(in.pending)
	if n == 0 {
		return nil
	}
	res, err := in.tx.StmtContext(ctx, in.s.inserts[n]).ExecContext(ctx, in.args...)
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	last, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	for k, i := range in.pending {
		in.ids[i] = last - int64(n-1-k)
	}
	in.last = last
	in.pending, in.args = in.pending[:0], in.args[:0]
	return nil
}

// prepareInserts prepares the INSERT statements for 1 to rowsPerInsert rows on the writer's
// connection, once: inside a transaction, that one connection is taken.
func (s *Store) prepareInserts(ctx context.Context) error {
	s.inserts = make([]*sql.Stmt, rowsPerInsert+1)
	for n := 1; n <= rowsPerInsert; n++ {
		stmt, err := s.wdb.PrepareContext(ctx, `INSERT INTO messages (at, kind, room, room_name, sender, sender_key, recipient, pair, text) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?), ", n), ", "))
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.inserts[n] = stmt
	}
	return nil
}

// indexEvery is how many lines may wait to be added to the full-text index: it is brought up
// to date in bulk, which costs a fraction of indexing line by line, and before each search.
const indexEvery = 512

// index adds the lines after lastIndexed, up to last, to the full-text index, in tx. Its
// rowids (the ids negated) go in increasing, as FTS5 wants them: a rowid lower than the last
// one makes it write out what it holds in memory, a segment per line.
func (s *Store) index(ctx context.Context, tx *sql.Tx, last int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO messages_fts (rowid, terms)
		SELECT -id, `+termsFunc+`(room, text) FROM messages WHERE id > ? AND id <= ? AND kind IN ('chat', 'action')
		ORDER BY id DESC`, s.lastIndexed, last); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fts_state SET last_indexed = ?`, last); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// write runs ops in one transaction. On failure nothing of it is kept, and every op is told.
func (s *Store) write(ops []op) error {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	ids := make([]int64, len(ops))
	ins := inserter{s: s, tx: tx, ids: ids}
	indexNow := false
	for i, o := range ops {
		switch {
		case o.index != nil:
			indexNow = true
		case o.rec != nil:
			if err := ins.add(ctx, i, o.rec); err != nil {
				return err
			}
		case o.ban != nil:
			if err := ins.flush(ctx); err != nil {
				return err
			}
			if err := writeBan(ctx, tx, *o.ban, o.deleteBan); err != nil {
				return err
			}
		case o.purge != nil:
			if err := ins.flush(ctx); err != nil {
				return err
			}
			if err := o.purge.run(ctx, tx, s.lastIndexed); err != nil {
				return err
			}
		}
	}
	if err := ins.flush(ctx); err != nil {
		return err
	}
	last := max(s.lastID, ins.last)
	indexed := s.lastIndexed
	if last-s.lastIndexed >= indexEvery || (indexNow && last > s.lastIndexed) {
		if err := s.index(ctx, tx, last); err != nil {
			return err
		}
		indexed = last
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s.lastID, s.lastIndexed = last, indexed
	for i, o := range ops {
		if o.rec != nil {
			o.rec.ID = ids[i]
		}
	}
	return nil
}

// checkpointEvery is how often the write-ahead log is copied into the database.
const checkpointEvery = 500 * time.Millisecond

// checkpointLoop copies the write-ahead log into the database now and then, without blocking
// the writer (a PASSIVE checkpoint copies what no reader needs), so that the log stays small.
func (s *Store) checkpointLoop() {
	defer s.stopped.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if _, err := s.cdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			s.checkpointLog.fail(err)
		} else {
			s.checkpointLog.ok()
		}
	}
}

func pairKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "\n" + b
}

func writeBan(ctx context.Context, tx *sql.Tx, b chat.Ban, del bool) error {
	kind, value, display := "address", b.Address.String(), b.Address.String()
	if b.Name != "" {
		n, err := chat.ParseName(b.Name)
		if err != nil {
			return nil // not a name this hubbub would ban
		}
		kind, value, display = "name", n.Key, n.Display
	}
	var err error
	if del {
		_, err = tx.ExecContext(ctx, `DELETE FROM bans WHERE kind = ? AND value = ?`, kind, value)
	} else {
		var until int64
		if !b.Until.IsZero() {
			until = b.Until.UnixNano()
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO bans (kind, value, display, until) VALUES (?, ?, ?, ?)`,
			kind, value, display, until)
	}
	if err != nil {
		return fmt.Errorf("ban: %w", err)
	}
	return nil
}

// Bans implements chat.History.
func (s *Store) Bans(ctx context.Context) ([]chat.Ban, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT kind, display, until FROM bans`)
	if err != nil {
		return nil, fmt.Errorf("read bans: %w", err)
	}
	defer rows.Close()
	var out []chat.Ban
	for rows.Next() {
		var kind, display string
		var until int64
		if err := rows.Scan(&kind, &display, &until); err != nil {
			return nil, fmt.Errorf("read bans: %w", err)
		}
		b := chat.Ban{}
		if until != 0 {
			b.Until = time.Unix(0, until)
		}
		if kind == "name" {
			b.Name = display
		} else if p, err := netip.ParsePrefix(display); err == nil {
			b.Address = p
		} else {
			continue
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

const selectMessage = `SELECT id, at, kind, room, room_name, sender, sender_key, recipient, pair, text FROM messages`

// Recent implements chat.History.
func (s *Store) Recent(ctx context.Context, room, a, b string, before int64, n int) ([]chat.Record, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var rows *sql.Rows
	var err error
	if room != "" {
		rows, err = s.rdb.QueryContext(ctx, selectMessage+` WHERE room = ? AND id < ? AND kind IN ('chat', 'action', 'topic')
			ORDER BY id DESC LIMIT ?`, room, before, n)
	} else {
		rows, err = s.rdb.QueryContext(ctx, selectMessage+` WHERE pair = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			pairKey(a, b), before, n)
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, nil
}

func scanRecords(rows *sql.Rows) ([]chat.Record, error) {
	defer rows.Close()
	var out []chat.Record
	for rows.Next() {
		var r chat.Record
		var at int64
		var kind, pair string
		if err := rows.Scan(&r.ID, &at, &kind, &r.Room, &r.RoomName, &r.From, &r.FromKey, &r.To, &pair, &r.Text); err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		r.Time = time.Unix(0, at)
		r.Kind = kindOf(kind)
		if pair != "" {
			a, b, _ := strings.Cut(pair, "\n")
			r.ToKey = a
			if a == r.FromKey {
				r.ToKey = b
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	return out, nil
}

// The kinds as the database names them: by word, so that the chat may renumber its Kinds.
var kindNames = map[chat.Kind]string{
	chat.KindChat: "chat", chat.KindAction: "action", chat.KindTopic: "topic", chat.KindJoin: "join",
	chat.KindLeave: "leave", chat.KindNick: "nick", chat.KindPrivate: "private",
}

func kindName(k chat.Kind) string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "chat"
}

func kindOf(name string) chat.Kind {
	for k, n := range kindNames {
		if n == name {
			return k
		}
	}
	return chat.KindChat
}
