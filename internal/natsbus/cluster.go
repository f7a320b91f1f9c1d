// Package natsbus is the chat's Bus and Names on NATS JetStream: what makes several hubbub
// nodes one chat (docs/cluster.md). Room events go through the HUBBUB_EVENTS stream, a subject
// per room, read by each node through an ordered consumer per room it has members in; events
// for one member or for every node go through the nodes' subjects; names are claimed in the
// hubbub_names key-value bucket with a TTL each node keeps refreshing.
//
// Goroutines: nats.go runs each consumer's and the watcher's callbacks; the Cluster owns one
// goroutine of its own (refresh), and one more once StartIndex feeds history (index.go), and
// Close stops all of them.
//
// LOCKING: Cluster.mu (the names view), bus.mu (the room consumers), claims.mu (this node's
// claims), seen.mu and flights.mu (the indexer's lines in flight) are leaves: nothing is called, and no network is waited on, while one is
// held, except that bus.mu is held while a room's consumer is made, since Subscribe must not
// return before the node receives the room's events.
package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// Config says how a node takes part in the cluster.
type Config struct {
	Conn *nats.Conn
	// Node is this node's name, unique in the cluster.
	Node string
	// NameTTL is how long a name stays claimed once its node stops refreshing it (a node that
	// died): 0 means DefaultNameTTL. Refreshed every NameTTL/3.
	NameTTL time.Duration
	Log     *slog.Logger
}

// DefaultNameTTL is Config.NameTTL by default.
const DefaultNameTTL = 15 * time.Second

// requestTimeout bounds each request to JetStream.
const requestTimeout = 5 * time.Second

// Cluster is this node's part in a cluster: make the hub's Bus and Names with NewBus and
// NewNames (chat.Config), and Close it after the hub's last member left.
type Cluster struct {
	cfg  Config
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	log  *slog.Logger
	boot string // this run of the node, in message ids: a restarted node's ids are new

	ctx    context.Context // done when closing
	cancel context.CancelFunc
	wg     sync.WaitGroup

	published   atomic.Uint64  // events published, for their ids
	publishFail atomic.Uint64  // events JetStream never kept, retries spent
	renewals    atomic.Uint64  // consumers made again after nats.go gave up on them
	retries     chan *nats.Msg // events to publish again
	lag         atomic.Int64   // events in the stream not yet read by this node's consumers

	watcher jetstream.KeyWatcher
	mu      sync.Mutex
	holders map[string]chat.Presence // the names bucket as last seen: key → who holds it
	nodeOf  map[uint64]placed        // member → where, from holders

	bus    *bus
	claims *claims
	index  atomic.Pointer[indexer] // set by StartIndex
}

// New joins the cluster through cfg.Conn: the stream and buckets must exist (natsnode.Provision).
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.NameTTL <= 0 {
		cfg.NameTTL = DefaultNameTTL
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{cfg: cfg, log: cfg.Log, retries: make(chan *nats.Msg, 4096), holders: make(map[string]chat.Presence), nodeOf: make(map[uint64]placed)}
	var b [6]byte
	rand.Read(b[:])
	c.boot = hex.EncodeToString(b[:])
	js, err := jetstream.New(cfg.Conn, jetstream.WithPublishAsyncErrHandler(c.publishFailed),
		jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.js = js
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if c.kv, err = js.KeyValue(rctx, natsnode.NamesBucket); err != nil {
		return nil, fmt.Errorf("cluster: the names bucket: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.watchNames(rctx); err != nil {
		c.cancel()
		return nil, err
	}
	c.bus = newBus(c)
	if err := c.bus.start(rctx); err != nil {
		c.watcher.Stop()
		c.cancel()
		return nil, err
	}
	c.claims = newClaims(c)
	c.wg.Add(3)
	go func() {
		defer c.wg.Done()
		c.claims.run()
	}()
	go func() {
		defer c.wg.Done()
		c.bus.renew()
	}()
	go func() {
		defer c.wg.Done()
		c.republish()
	}()
	return c, nil
}

// NewBus returns the Bus for chat.Config.NewBus.
func (c *Cluster) NewBus(deliver func(chat.Event)) chat.Bus {
	c.bus.deliver.Store(&deliver)
	return c.bus
}

// NewNames returns the Names for chat.Config.NewNames.
func (c *Cluster) NewNames(lost func(holder uint64)) chat.Names {
	c.claims.lost.Store(&lost)
	return c.claims
}

// Lag is how many events of the rooms this node reads are in the stream and not read yet.
func (c *Cluster) Lag() uint64 { return uint64(max(c.lag.Load(), 0)) }

// PublishFailures is how many events JetStream never kept, having been published again.
func (c *Cluster) PublishFailures() uint64 { return c.publishFail.Load() }

// ConsumerRenewals is how many times a consumer of events was made again (its NATS server
// lost, its stream without a leader).
func (c *Cluster) ConsumerRenewals() uint64 { return c.renewals.Load() }

// Close stops this node's consumers and watcher, and frees the names it holds.
func (c *Cluster) Close() {
	c.bus.stop()
	c.watcher.Stop()
	c.cancel()
	c.wg.Wait()
	c.claims.releaseAll()
}

// watchNames keeps c.holders as the names bucket is, having read what it holds now.
func (c *Cluster) watchNames(ctx context.Context) error {
	w, err := c.kv.WatchAll(c.ctx)
	if err != nil {
		return fmt.Errorf("cluster: watching names: %w", err)
	}
	c.watcher = w
	ready := make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for e := range w.Updates() {
			if e == nil { // what the bucket held is read; changes follow
				close(ready)
				continue
			}
			c.sawName(e)
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		w.Stop()
		return fmt.Errorf("cluster: reading names: %w", ctx.Err())
	}
}

func (c *Cluster) sawName(e jetstream.KeyValueEntry) {
	if gone, ok := c.seeName(e); ok {
		c.vanished(gone)
	}
}

// vanished tells this node's members who shared a room with p, a member of another node whose
// claim expired (its node died, or lost NATS), that it left: its node cannot say so any more.
func (c *Cluster) vanished(p chat.Presence) {
	if !c.bus.seen.first("vanished." + strconv.FormatUint(p.Member, 10)) { // one per name key
		return
	}
	var rooms []string
	for _, name := range p.Rooms {
		if n, err := chat.ParseRoom(name); err == nil {
			rooms = append(rooms, n.Keys()[0])
		}
	}
	if deliver := c.bus.deliver.Load(); deliver != nil && len(rooms) > 0 {
		(*deliver)(chat.Event{Rooms: rooms, Msg: &chat.Message{Kind: chat.KindQuit, From: p.Name, Text: "connection lost"},
			From: chat.Origin{Member: p.Member}, Lost: true})
	}
}

// seeName keeps e in c.holders; gone is who held the key before, when its claim expired
// rather than being released (a release is a delete, an expiry a purge marker), on another node.
func (c *Cluster) seeName(e jetstream.KeyValueEntry) (gone chat.Presence, expired bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.holders[e.Key()]; ok {
		if e.Operation() == jetstream.KeyValuePurge && old.Node != c.cfg.Node {
			gone, expired = old, true
		}
		delete(c.holders, e.Key())
		if at := c.nodeOf[old.Member]; at.keys <= 1 {
			delete(c.nodeOf, old.Member)
		} else {
			at.keys--
			c.nodeOf[old.Member] = at
		}
	}
	if e.Operation() != jetstream.KeyValuePut {
		return gone, expired
	}
	p, err := parsePresence(e.Value())
	if err != nil {
		c.log.Warn("cluster: a name in the bucket cannot be read", "err", err)
		return gone, expired
	}
	c.holders[e.Key()] = p
	at := c.nodeOf[p.Member]
	at.node = p.Node
	at.keys++
	c.nodeOf[p.Member] = at
	return gone, expired
}

// placed is where a member is, and by how many keys of the names bucket.
type placed struct {
	node string
	keys int
}

// lookup returns who holds one of keys, as last seen.
func (c *Cluster) lookup(keys []string) (chat.Presence, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if p, ok := c.holders[k]; ok {
			return p, true
		}
	}
	return chat.Presence{}, false
}

// online returns every holder seen, each once.
func (c *Cluster) online() []chat.Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]chat.Presence, 0, len(c.nodeOf))
	seen := make(map[uint64]bool, len(c.nodeOf))
	for _, p := range c.holders {
		if !seen[p.Member] {
			seen[p.Member] = true
			out = append(out, p)
		}
	}
	return out
}

// node returns the node a member is on, as far as this node has seen.
func (c *Cluster) node(member uint64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.nodeOf[member]
	return at.node, ok
}

// publishFailed is told of each event JetStream did not acknowledge (a stream without a
// leader for a moment, a connection moving to another server): it is published again, with
// the same Nats-Msg-Id, so that a copy the stream did keep is not kept twice. NATS calls it:
// it hands the event over and returns.
func (c *Cluster) publishFailed(_ jetstream.JetStream, m *nats.Msg, err error) {
	if c.ctx.Err() != nil {
		return
	}
	select {
	case c.retries <- m:
	default:
		c.lost(m, err)
	}
}

// lost counts and logs an event JetStream never kept: nobody was shown it.
func (c *Cluster) lost(m *nats.Msg, err error) {
	c.publishFail.Add(1)
	c.log.Error("cluster: an event was not kept by JetStream", "subject", m.Subject, "err", err)
}

// Publishing again: for how long, and how long between tries. Events published again may be
// kept after events published later: a line said during a failover can come a little late.
const (
	retryFor   = 30 * time.Second
	retryEvery = 250 * time.Millisecond
)

// republish publishes again the events JetStream did not acknowledge, until the cluster closes.
func (c *Cluster) republish() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.retries:
			c.publishAgain(m)
		}
	}
}

func (c *Cluster) publishAgain(m *nats.Msg) {
	deadline := time.Now().Add(retryFor)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, requestTimeout)
		_, err := c.js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
		cancel()
		if err == nil {
			return
		}
		if c.ctx.Err() != nil || time.Now().After(deadline) {
			c.lost(m, err)
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(retryEvery):
		}
	}
}
