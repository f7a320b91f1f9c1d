// Package natsbus is the chat's Bus and Names on NATS JetStream: what makes several hubbub
// nodes one chat (docs/cluster.md). Room events go through the HUBBUB_EVENTS stream, a subject
// per room, read by each node through an ordered consumer per room it has members in; events
// for one member or for every node go through the nodes' subjects; names are claimed in the
// hubbub_names key-value bucket, held while their node's lease in hubbub_nodes lives (lease.go).
//
// Goroutines: nats.go runs each consumer's callbacks; the Cluster owns the names' and leases'
// watchers, the lease's keeper, the claims' writer, the bus's renewer and republisher, and one
// more once StartIndex feeds history (index.go), and Close stops all of them.
//
// LOCKING: Cluster.mu (the names and leases seen), bus.mu (the room consumers), claims.mu (this node's
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
	"slices"
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
	// died): 0 means DefaultNameTTL. Its node's lease is refreshed every NameTTL/6.
	NameTTL time.Duration
	Log     *slog.Logger
}

// DefaultNameTTL is Config.NameTTL by default: long enough for a node to go on refreshing its
// lease through a JetStream leader election (nats-server takes 4-9 s to elect one, longer on a
// loaded machine), since a node that cannot refresh for 2/3 of it drops its members. At 15 s a
// node killed while it led the leases' stream had the other two nodes drop all their members.
const DefaultNameTTL = 30 * time.Second

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

	watcher      jetstream.KeyWatcher
	leaseWatcher jetstream.KeyWatcher
	mu           sync.Mutex
	holders      map[string]seenHolding         // the names bucket as last seen: key → who holds it
	inRoom       map[string]map[string]struct{} // room key → the keys of holders whose value lists the room
	nodeOf       map[uint64]placed              // member → where, from holders
	leases       map[string]string              // the nodes bucket as last seen: node → its incarnation
	renewed      map[string]time.Time           // when this node last saw each lease written
	dead         map[string]bool                // incarnations ("node inc") whose lease this node saw end

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
	c := &Cluster{cfg: cfg, log: cfg.Log, retries: make(chan *nats.Msg, 4096), holders: make(map[string]seenHolding), inRoom: make(map[string]map[string]struct{}), nodeOf: make(map[uint64]placed),
		leases: make(map[string]string), renewed: make(map[string]time.Time), dead: make(map[string]bool)}
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
	nodes, err := js.KeyValue(rctx, natsnode.NodesBucket)
	if err != nil {
		return nil, fmt.Errorf("cluster: the nodes bucket: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.claims, err = newClaims(c, nodes); err != nil {
		c.cancel()
		return nil, err
	}
	fail := func(err error) (*Cluster, error) {
		c.stopWatchers()
		c.cancel()
		c.wg.Wait()
		return nil, err
	}
	// Leases first: a name is shown only while its holder's lease is seen.
	if c.leaseWatcher, err = c.watch(rctx, nodes, "nodes", c.sawLease); err != nil {
		return fail(err)
	}
	if c.watcher, err = c.watch(rctx, c.kv, "names", c.sawName); err != nil {
		return fail(err)
	}
	// A predecessor's lease may take up to NameTTL to expire: ctx, not one request, bounds it.
	if err := c.claims.acquire(ctx); err != nil {
		return fail(err)
	}
	c.bus = newBus(c)
	if err := c.bus.start(rctx); err != nil {
		c.claims.releaseLease(context.Background())
		return fail(err)
	}
	c.wg.Add(4)
	go func() {
		defer c.wg.Done()
		c.claims.run()
	}()
	go func() {
		defer c.wg.Done()
		c.claims.keepLease()
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

// Close stops this node's consumers and watchers, and frees the names it holds and its lease.
func (c *Cluster) Close() {
	c.bus.stop()
	c.stopWatchers()
	c.cancel()
	c.wg.Wait()
	c.claims.releaseAll()
}

func (c *Cluster) stopWatchers() {
	for _, w := range []jetstream.KeyWatcher{c.watcher, c.leaseWatcher} {
		if w != nil {
			w.Stop()
		}
	}
}

// watch calls saw with each entry of kv, having read what it holds now, until the cluster
// closes.
func (c *Cluster) watch(ctx context.Context, kv jetstream.KeyValue, what string, saw func(jetstream.KeyValueEntry)) (jetstream.KeyWatcher, error) {
	w, err := kv.WatchAll(c.ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: watching %s: %w", what, err)
	}
	ready := make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for e := range w.Updates() {
			if e == nil { // what the bucket held is read; changes follow
				close(ready)
				continue
			}
			saw(e)
		}
	}()
	select {
	case <-ready:
		return w, nil
	case <-ctx.Done():
		w.Stop()
		return nil, fmt.Errorf("cluster: reading %s: %w", what, ctx.Err())
	}
}

// seenHolding is a name key as this node last saw it.
type seenHolding struct {
	holding
	rev   uint64
	rooms []string // the keys of holding's rooms
}

func (h holding) incarnation() string { return h.Node + " " + h.Inc }

// liveLocked says whether h's node's lease, as last seen, names h's incarnation.
func (c *Cluster) liveLocked(h seenHolding) bool {
	return h.Inc != "" && c.leases[h.Node] == h.Inc
}

// leaseOf returns the incarnation node's lease named when last seen, "" if none.
func (c *Cluster) leaseOf(node string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leases[node]
}

// sawLease follows the nodes bucket: a lease that expires, or names a new incarnation, ends
// the one it named: its keys are garbage and its members are gone ("connection lost"). A
// lease deleted is a node that stopped: its members said goodbye, its keys were released.
func (c *Cluster) sawLease(e jetstream.KeyValueEntry) {
	b, err := hex.DecodeString(e.Key())
	if err != nil {
		return
	}
	node := string(b)
	c.mu.Lock()
	old := c.leases[node]
	var inc string
	if e.Operation() == jetstream.KeyValuePut {
		inc = string(e.Value())
		c.leases[node], c.renewed[node] = inc, time.Now()
	} else {
		delete(c.leases, node)
		delete(c.renewed, node)
	}
	var gone []chat.Presence
	var gc []keyRev
	if old != "" && old != inc {
		gone, gc = c.endedLocked(node, old)
		if e.Operation() == jetstream.KeyValueDelete {
			gone = nil
		}
	}
	c.mu.Unlock()
	c.claims.collectGarbage(gc)
	if old != "" && old != inc && e.Operation() != jetstream.KeyValueDelete && node != c.cfg.Node {
		c.log.Info("cluster: another node's lease ended: its members are gone", "node", node, "members", len(gone), "how", e.Operation().String())
	}
	for _, p := range gone {
		c.vanished(p)
	}
}

// staleLeases returns the leases of other nodes this node has not seen written for longer
// than after: their end may have been missed (the marker of an expiry can be lost to the
// watcher when the server that held the bucket's leader dies with the node).
func (c *Cluster) staleLeases(after time.Duration) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string)
	for node, at := range c.renewed {
		if node != c.cfg.Node && time.Since(at) > after {
			out[node] = c.leases[node]
		}
	}
	return out
}

// leaseGone ends node's incarnation inc, if this node still sees it, as an expiry would.
func (c *Cluster) leaseGone(node, inc string) {
	c.mu.Lock()
	if c.leases[node] != inc {
		c.mu.Unlock()
		return
	}
	delete(c.leases, node)
	delete(c.renewed, node)
	gone, gc := c.endedLocked(node, inc)
	c.mu.Unlock()
	c.claims.collectGarbage(gc)
	c.log.Info("cluster: another node's lease ended unseen: its members are gone", "node", node, "members", len(gone))
	for _, p := range gone {
		c.vanished(p)
	}
}

// endedLocked marks node's incarnation inc as ended and returns its keys and members, each
// member once and none of this node's (its hub dropped them itself).
func (c *Cluster) endedLocked(node, inc string) (gone []chat.Presence, gc []keyRev) {
	if len(c.dead) > 4096 { // incarnations end rarely; a bound all the same
		clear(c.dead)
	}
	c.dead[node+" "+inc] = true
	seen := make(map[uint64]bool)
	for key, h := range c.holders {
		if h.Node != node || h.Inc != inc {
			continue
		}
		gc = append(gc, keyRev{key: key, rev: h.rev, holder: h.Member})
		if node != c.cfg.Node && !seen[h.Member] {
			seen[h.Member] = true
			gone = append(gone, h.Presence)
		}
	}
	return gone, gc
}

func (c *Cluster) sawName(e jetstream.KeyValueEntry) {
	if gone, ok := c.seeName(e); ok {
		c.claims.collectGarbage([]keyRev{{key: e.Key(), rev: e.Revision(), holder: gone.Member}})
		if gone.Node != c.cfg.Node {
			c.vanished(gone)
		}
	}
}

// vanished tells this node's members who shared a room with p, a member of another node whose
// lease ended (its node died, or lost NATS), that it left: its node cannot say so any more.
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
			From: chat.Origin{Member: p.Member}, Lost: true, Operator: p.Operator})
	}
}

// seeName keeps e in c.holders. A key written through an incarnation this node saw end (its
// lease's end came before the key) is garbage: dead says who holds it.
func (c *Cluster) seeName(e jetstream.KeyValueEntry) (dead chat.Presence, isDead bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.holders[e.Key()]; ok {
		delete(c.holders, e.Key())
		for _, room := range old.rooms {
			if keys := c.inRoom[room]; len(keys) <= 1 {
				delete(c.inRoom, room)
			} else {
				delete(keys, e.Key())
			}
		}
		if at := c.nodeOf[old.Member]; at.keys <= 1 {
			delete(c.nodeOf, old.Member)
		} else {
			at.keys--
			c.nodeOf[old.Member] = at
		}
	}
	if e.Operation() != jetstream.KeyValuePut {
		return chat.Presence{}, false
	}
	h, err := parseHolding(e.Value())
	if err != nil {
		c.log.Warn("cluster: a name in the bucket cannot be read", "err", err)
		return chat.Presence{}, false
	}
	if c.dead[h.incarnation()] {
		return h.Presence, true
	}
	seen := seenHolding{holding: h, rev: e.Revision()}
	for _, name := range h.Rooms {
		if n, err := chat.ParseRoom(name); err == nil && !slices.Contains(seen.rooms, n.Keys()[0]) {
			seen.rooms = append(seen.rooms, n.Keys()[0])
		}
	}
	for _, room := range seen.rooms {
		keys := c.inRoom[room]
		if keys == nil {
			keys = make(map[string]struct{})
			c.inRoom[room] = keys
		}
		keys[e.Key()] = struct{}{}
	}
	c.holders[e.Key()] = seen
	at := c.nodeOf[h.Member]
	at.node = h.Node
	at.keys++
	c.nodeOf[h.Member] = at
	return chat.Presence{}, false
}

// unleased returns the keys seen whose incarnation's lease is not seen, by node.
func (c *Cluster) unleased() map[string][]unleasedKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]unleasedKey)
	for key, h := range c.holders {
		if !c.liveLocked(h) {
			out[h.Node] = append(out[h.Node], unleasedKey{keyRev{key: key, rev: h.rev, holder: h.Member}, h.Inc})
		}
	}
	return out
}

type unleasedKey struct {
	keyRev
	inc string
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
		if h, ok := c.holders[k]; ok && c.liveLocked(h) {
			return h.Presence, true
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
	for _, h := range c.holders {
		if !seen[h.Member] && c.liveLocked(h) {
			seen[h.Member] = true
			out = append(out, h.Presence)
		}
	}
	return out
}

// inRoomNow returns every holder seen in the room whose key is room, each once.
func (c *Cluster) inRoomNow(room string) []chat.Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := c.inRoom[room]
	out := make([]chat.Presence, 0, len(keys))
	seen := make(map[uint64]bool, len(keys))
	for key := range keys {
		if h := c.holders[key]; !seen[h.Member] && c.liveLocked(h) {
			seen[h.Member] = true
			out = append(out, h.Presence)
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
