package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// One history across the cluster. The events stream is the log; each node's history (its
// SQLite file) is an index of it. A node keeps its own users' lines before it publishes them
// (chat's "kept before shown"), and every published event carries the Record its node kept;
// each node reads the whole stream through a durable consumer of its own and keeps the
// records of the other nodes' events, each once (by the event's id, the line's origin).
//
// Catching up: the consumer is durable and acknowledged explicitly, after the line is
// committed, so the stream remembers how far each node's history got. A node that was down
// (or killed before acknowledging) resumes where it acknowledged and reads what it missed; an
// event read twice is kept once. A new node's consumer starts at the first event the stream
// still holds, so it indexes everything the stream keeps. A consumer left unread for
// indexInactive is deleted by the server (and one an operator deletes is gone too): the node
// makes it again and reads the whole stream again, which costs time but loses and repeats
// nothing. What the stream dropped (its max age) while a node was down is lost to that node.
//
// A node skips the events it published itself, in any run: its lines were in its history
// before they were published. So a node's name goes with its data directory.
//
// Meanwhile /history and /search answer from what the node has indexed so far, and say that
// history is catching up (HistoryBehind, for chat.Config.HistoryBehind): the lines the
// node missed come in behind the ones its users said since, and replays on joining a room
// (Hub.Indexed) get them as they come.

// Indexer keeps lines other nodes kept: sqlite.Store.Index. done is called once each line is
// kept, with ID 0 when its origin was kept already, or with the error that kept it from being
// kept; Index may block while too much is queued.
type Indexer interface {
	Index(rec chat.Record, origin string, done func(chat.Record, error))
}

// Bounds of the indexer's reading.
const (
	indexBatch      = 256              // events asked for at once
	indexAckPending = 4 * indexBatch   // events read and not yet acknowledged at most
	indexAckWait    = 30 * time.Second // an event not acknowledged by then is read again
	indexFetchWait  = 5 * time.Second  // how long a fetch waits for events
	indexRetry      = 2 * time.Second  // the pause after a failure, before trying again
	indexInactive   = 7 * 24 * time.Hour
	indexLogEvery   = 30 * time.Second // a failure that repeats is logged at most this often
)

// IndexConsumer is the name of node's durable consumer of the events stream, which feeds its
// history.
func IndexConsumer(node string) string { return "index-" + natsnode.Hex(node) }

// indexer reads the events stream into this node's history.
type indexer struct {
	c       *Cluster
	store   Indexer
	indexed func(chat.Record)
	cons    jetstream.Consumer // read and replaced by the indexer's goroutine alone, once started
	next    uint64             // the stream sequence expected next; the indexer's goroutine's alone

	pending  atomic.Uint64 // events the stream holds for the consumer, as last told
	behind   atomic.Bool   // catching up: not at the stream's head since starting or falling back
	inflight flights       // events handed to the store and not yet kept
	logged   atomic.Int64  // when a failure was logged last, unix nanoseconds
}

// StartIndex makes this node's history an index of the stream: a goroutine of the Cluster
// reads every event, from where the node's durable consumer was last acknowledged (the stream's
// first event the first time), and hands store the records of the events other nodes published;
// indexed is called with each once it is kept, from the store's goroutine (for Hub.Indexed).
// Close stops it. It returns once the consumer exists, so that IndexLag tells from then on how
// far behind the node's history is.
func (c *Cluster) StartIndex(store Indexer, indexed func(chat.Record)) error {
	if c.ctx.Err() != nil {
		return fmt.Errorf("cluster: indexing history: closed")
	}
	ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
	defer cancel()
	cons, err := c.indexConsumer(ctx)
	if err != nil {
		return err
	}
	x := &indexer{c: c, store: store, indexed: indexed, cons: cons}
	info := cons.CachedInfo()
	x.setPending(info.NumPending + uint64(max(info.NumAckPending, 0)))
	x.behind.Store(x.pending.Load() > 0)
	if !c.index.CompareAndSwap(nil, x) {
		return fmt.Errorf("cluster: indexing history: started already")
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		x.run()
	}()
	return nil
}

// HistoryBehind is IndexLag while the node's history is catching up, and 0 otherwise: for
// chat.Config.HistoryBehind. A node is catching up from StartIndex (when the stream holds
// events it has not read) until it first reaches the stream's head, and again whenever it
// falls indexBehind events back. The few events that are always on their way while the
// cluster is busy do not count: /history would say it is catching up at every other call.
func (c *Cluster) HistoryBehind() uint64 {
	x := c.index.Load()
	if x == nil || !x.behind.Load() {
		return 0
	}
	return c.IndexLag()
}

// indexBehind is how many events the indexer may have left to read before the node says its
// history is behind again: more than a busy cluster keeps on their way.
const indexBehind = indexAckPending

// setPending notes that n events are left to read, and whether that is catching up.
func (x *indexer) setPending(n uint64) {
	x.pending.Store(n)
	switch {
	case n == 0:
		x.behind.Store(false)
	case n >= indexBehind:
		x.behind.Store(true)
	}
}

// indexConsumer makes this node's consumer of the stream for its history, or finds it made.
func (c *Cluster) indexConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, natsnode.EventsStream, jetstream.ConsumerConfig{
		Durable:           IndexConsumer(c.cfg.Node),
		Description:       "hubbub: a node's history index",
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           indexAckWait,
		MaxAckPending:     indexAckPending,
		FilterSubjects:    []string{natsnode.RoomSubjects, natsnode.NodeSubjects},
		InactiveThreshold: indexInactive,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: the history index's consumer: %w", err)
	}
	return cons, nil
}

// IndexLag is how many events of the stream this node's history has not read or kept yet:
// a metric (HistoryBehind is what users are told). 0 before StartIndex.
func (c *Cluster) IndexLag() uint64 {
	x := c.index.Load()
	if x == nil {
		return 0
	}
	return x.pending.Load() + uint64(x.inflight.count())
}

// run reads the stream until the Cluster closes, then waits a while for the lines handed to
// the store, so that they are acknowledged before the connection goes.
func (x *indexer) run() {
	defer x.inflight.wait(requestTimeout)
	for x.c.ctx.Err() == nil {
		n, err := x.fetch()
		if err == nil && n > 0 {
			continue
		}
		if err != nil && x.c.ctx.Err() == nil {
			x.failed("cluster: reading the events stream into history", err)
			select {
			case <-x.c.ctx.Done():
			case <-time.After(indexRetry):
			}
		}
		if err := x.check(); err != nil && x.c.ctx.Err() == nil {
			x.failed("cluster: the history index's consumer", err)
		}
	}
}

// check asks the stream, when there was nothing to read or reading failed, how much the
// consumer has not read; and makes the consumer again if it is gone (deleted by an operator,
// or by the server after indexInactive unread), which then reads the stream from its start.
func (x *indexer) check() error {
	ctx, cancel := context.WithTimeout(x.c.ctx, requestTimeout)
	defer cancel()
	info, err := x.cons.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		x.c.log.Warn("cluster: the history index's consumer was gone: made again, it reads the stream from its start")
		cons, err := x.c.indexConsumer(ctx)
		if err != nil {
			return err
		}
		x.cons = cons
		info = cons.CachedInfo()
	} else if err != nil {
		return err
	}
	x.setPending(info.NumPending)
	return nil
}

// fetch reads one batch of events, handling each as it comes, and returns how many it read.
func (x *indexer) fetch() (int, error) {
	ctx, cancel := context.WithTimeout(x.c.ctx, indexFetchWait)
	defer cancel()
	batch, err := x.cons.Fetch(indexBatch, jetstream.FetchContext(ctx))
	if err != nil {
		return 0, err
	}
	n := 0
	for m := range batch.Messages() {
		if x.c.ctx.Err() != nil {
			return n, nil // not acknowledged: read again next time
		}
		n++
		x.handle(m)
	}
	err = batch.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // a quiet stream
	}
	return n, err
}

// handle keeps one event's record, unless this node published it (its history has it since
// before the event was published), and acknowledges the event once it is kept.
func (x *indexer) handle(m jetstream.Msg) {
	// Counted in flight before the pending count drops past it, until keep counts it itself:
	// the lag never reads 0 while this event is on its way into history.
	x.inflight.add()
	defer x.inflight.done()
	md, mdErr := m.Metadata()
	if mdErr == nil {
		x.setPending(md.NumPending)
		// The consumer reads the whole stream, so its sequences follow each other: one that
		// skips some means events were lost on their way to this node (a NATS server that died
		// with them, its consumer's state not yet copied). They are read from the stream.
		if seq := md.Sequence.Stream; x.next != 0 && seq > x.next {
			x.fill(x.next, seq)
		}
		x.next = max(x.next, md.Sequence.Stream+1)
	}
	x.keep(m.Data(), m.Subject(), func() { m.Ack() }, func() { m.NakWithDelay(indexRetry) }, func() { m.Term() })
}

// keep stores the record an event carries, calling ack once it is kept (or when there is
// nothing to keep), nak when it could not be, term when it cannot be read.
func (x *indexer) keep(data []byte, subject string, ack, nak, term func()) {
	id, ev, err := decodeEvent(data)
	switch {
	case err != nil:
		x.c.log.Warn("cluster: an event cannot be read into history", "subject", subject, "err", err)
		term() // it will not read better next time
		return
	case ev.Record == nil || publishedBy(id, x.c.cfg.Node):
		ack()
		return
	}
	x.inflight.add()
	x.store.Index(*ev.Record, id, func(rec chat.Record, err error) {
		defer x.inflight.done()
		if err != nil {
			x.failed("cluster: history cannot keep a line of another node", err)
			nak()
			return
		}
		if rec.ID != 0 && x.indexed != nil {
			x.indexed(rec)
		}
		// A lost acknowledgement only means the event is read, and skipped, again.
		ack()
	})
}

// fill reads the events from the stream sequence from up to (not including) to straight from
// the stream, and keeps their records; one the consumer delivers later is kept once.
func (x *indexer) fill(from, to uint64) {
	ctx, cancel := context.WithTimeout(x.c.ctx, requestTimeout)
	defer cancel()
	stream, err := x.c.js.Stream(ctx, natsnode.EventsStream)
	if err != nil {
		x.failed("cluster: reading events the history index missed", err)
		return
	}
	for seq := from; seq < to; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // gone from the stream (its age, or deleted)
		}
		if err != nil {
			x.failed("cluster: reading events the history index missed", err)
			return
		}
		x.c.log.Debug("cluster: the history index read a missed event from the stream", "seq", seq)
		nothing := func() {}
		x.keep(raw.Data, raw.Subject, nothing, nothing, nothing)
	}
}

// failed logs err, at most once per indexLogEvery: a full disk fails every line.
func (x *indexer) failed(msg string, err error) {
	now := time.Now().UnixNano()
	last := x.logged.Load()
	if now-last >= int64(indexLogEvery) && x.logged.CompareAndSwap(last, now) {
		x.c.log.Error(msg, "err", err)
	}
}

// publishedBy reports whether the event numbered id was published by node, in any of its
// runs: ids are "<node>.<boot>.<n>", and a node name may hold dots itself.
func publishedBy(id, node string) bool {
	rest, ok := strings.CutPrefix(id, node+".")
	return ok && strings.Count(rest, ".") == 1
}

// flights counts the events handed to the store and not yet kept, so that the indexer can wait
// for them when it stops. Its mu is a leaf.
type flights struct {
	mu      sync.Mutex
	n       int
	drained chan struct{} // closed when n is 0 again, while wait waits
}

func (f *flights) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
}

func (f *flights) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.drained != nil {
		close(f.drained)
		f.drained = nil
	}
}

func (f *flights) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// wait waits until nothing is in flight, or for d at most.
func (f *flights) wait(d time.Duration) {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.drained = ch
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(d):
	}
}
