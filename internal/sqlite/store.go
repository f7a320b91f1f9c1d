// Config, the Store, and what the store's goroutines share: the queue of operations for the
// writer (guarded by Store.mu), and the batches the writer hands to the notifier. No I/O
// here; see doc.go for the lock order.

package sqlite

import (
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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

	// Check is what Open reads to find damage; the zero value, CheckAll, is the server's.
	Check Check
}

// Check says what Open reads of the database, before anything else, to find damage.
type Check uint8

const (
	// CheckAll reads every page (PRAGMA quick_check) and writes to make sure the file can be
	// written: what the server does at start, so that a damaged or read-only database is found
	// then rather than when a line is lost. It costs seconds per few hundred megabytes.
	CheckAll Check = iota
	// CheckAccounts reads only the tables of accounts and login tokens, and their indexes,
	// after migrating, and writes nothing: what a short command beside a running server
	// (`hubbub account`) needs. That server read every page when it started; doing it again
	// would cost each command seconds on a large history, and the write would wait behind
	// the server's transactions and change the schema under its statements.
	CheckAccounts
)

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
	indexes     []*sql.Stmt // INSERT statements of lines other nodes kept, by rows
}

// op is one thing for the writer to do.
type op struct {
	rec       *chat.Record
	origin    string // for a line another node kept: the event that carried it (Index)
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
