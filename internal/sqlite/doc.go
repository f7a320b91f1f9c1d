// Package sqlite keeps chat history, bans, accounts and login tokens in an embedded SQLite
// database (modernc.org/sqlite, no cgo). It implements chat.Lines, chat.BanList and chat.Accounts.
// In a cluster it is also the node's index of the lines other nodes kept (Index).
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
//
// # Files
//
//	store.go      Config, the Store and what its goroutines share
//	open.go       Open, the checks at open (CheckAll, CheckAccounts), Close; migrate.go migrates
//	writer.go     the writer goroutine: the queue, batching, multi-row inserts, the index
//	notify.go     the notifier goroutine: done callbacks, in order, after each commit
//	lines.go      chat lines and private history: Store, Note, Recent (Search in search.go)
//	indexed.go    lines other nodes of a cluster kept: Index, once per event
//	bans.go       bans: SaveBan, DeleteBan, Bans
//	upkeep.go     the checkpointer and retention
//	accounts*.go, tokens.go   accounts and login tokens, written outside the writer's queue
//
// # Locking
//
// The locks and waits of the package, in the order they may be taken (a lock on a line may
// be taken while holding one on an earlier line, never the reverse):
//
//  1. the caller's locks: chat's Hub.mu. Note, SaveBan and DeleteBan are called under it, so
//     they never wait; Store and Index wait for room in the queue, so they are never called
//     under a lock that a done callback takes.
//  2. Store.mu, the queue mutex (with notFull): held only to add to the queue, take a batch
//     from it, or swap the rooms retention looks at; never across I/O or a callback.
//  3. the writer's connection (wdb, one connection), then SQLite's write lock on the file,
//     which another process (`hubbub account`) may hold: held by the writer goroutine for
//     one transaction, and by account and token writes for theirs, which wait for it.
//  4. repeatLog.mu, a leaf: held only to decide whether to log.
//
// The writer hands each committed batch to the notifier over a channel of a few batches; the
// notifier calls the done callbacks holding no lock of this package, and they take Hub.mu
// (sqlite notify → Hub.mu). So the store never calls into the chat while holding Store.mu,
// and a done callback that waits (for Hub.mu) stalls only the notifier, then, once the channel
// is full, the writer: never a caller of Note. The searches semaphore and a purge's done
// channel are waited on with no lock held.
package sqlite
