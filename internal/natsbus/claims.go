package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// claims is chat.Names on the names bucket: each skeleton of a name is a key, created to
// claim it (which fails if anyone holds it), naming its holder's node and incarnation, and
// deleted to release it. It has no TTL and is not refreshed: it is held while its node's
// lease (lease.go) names that incarnation, and free once the lease is gone, when whoever
// claims it takes it over with an update that expects the revision it read. Any node that
// sees a lease end deletes that incarnation's keys (a garbage collector: a claim does not
// need it) and tells its members that the dead node's members left.
type claims struct {
	c     *Cluster
	js    jetstream.JetStream                 // without the bus's error handler: names' writes are checked one by one
	nodes jetstream.KeyValue                  // the nodes bucket: leases
	lost  atomic.Pointer[func(holder uint64)] // set by NewNames

	mu       sync.Mutex
	inc      string            // this node's incarnation while it holds its lease, else ""
	lastInc  string            // the incarnation it held last, whose lease it may take over
	leaseRev uint64            // the lease's sequence as this node last wrote it
	leaseOK  time.Time         // when the last successful lease write was sent
	held     map[uint64]*claim // by holder, all through inc
	claiming map[uint64]int    // holders with a claim on its way, and how many
	freeing  []keyRev          // keys to delete, by run
	garbage  []keyRev          // keys of incarnations gone, to delete, by run
	wake     chan struct{}     // run has keys to free or values to write
}

// claim is what one member holds.
type claim struct {
	value []byte             // its presence, as the bucket keeps it
	dirty bool               // value changed since its keys were written
	keys  map[string]*keyRev // the bucket keys it holds, by key
}

type keyRev struct {
	key    string
	rev    uint64 // the key's sequence as this node last wrote or saw it
	holder uint64
}

func newClaims(c *Cluster, nodes jetstream.KeyValue) (*claims, error) {
	js, err := jetstream.New(c.cfg.Conn, jetstream.WithPublishAsyncMaxPending(2*writeBatch),
		jetstream.WithPublishAsyncTimeout(requestTimeout))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return &claims{c: c, js: js, nodes: nodes, held: make(map[uint64]*claim), claiming: make(map[uint64]int), wake: make(chan struct{}, 1)}, nil
}

// holding is what a name key holds: who, and through which incarnation of its node.
type holding struct {
	chat.Presence
	Inc string `json:"inc"`
}

func (l *claims) value(p chat.Presence, inc string) []byte {
	p.Node = l.c.cfg.Node
	b, _ := json.Marshal(holding{Presence: p, Inc: inc})
	return b
}

func parseHolding(b []byte) (holding, error) {
	var h holding
	if err := json.Unmarshal(b, &h); err != nil {
		return holding{}, fmt.Errorf("a name's holder: %w", err)
	}
	return h, nil
}

// Update keeps p as the holder's value, written to its keys in the background.
func (l *claims) Update(p chat.Presence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl := l.held[p.Member]
	if cl == nil {
		return
	}
	cl.value, cl.dirty = l.value(p, l.inc), true
	l.wakeLocked()
}

func (l *claims) wakeLocked() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *claims) Lookup(n chat.Name) (chat.Presence, bool) { return l.c.lookup(keysOf(n)) }

func (l *claims) Online() []chat.Presence { return l.c.online() }

func (l *claims) InRoom(room string) []chat.Presence { return l.c.inRoomNow(room) }

// keysOf returns n's bucket keys, each once.
func keysOf(n chat.Name) []string {
	var out []string
	for _, s := range n.Keys() {
		if k := nameKey(s); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func (l *claims) Claim(n chat.Name, holder uint64) error {
	return l.take(n, keysOf(n), holder)
}

// take creates keys (n's, or those of them a rename adds) for holder.
func (l *claims) take(n chat.Name, keys []string, holder uint64) error {
	l.mu.Lock()
	inc := l.inc
	// Its keys name it before it is held: another member of this node must not take them.
	l.claiming[holder]++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.claiming[holder]--; l.claiming[holder] == 0 {
			delete(l.claiming, holder)
		}
		l.mu.Unlock()
	}()
	if inc == "" {
		return errNoLease
	}
	ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
	defer cancel()
	value := l.value(chat.Presence{Member: holder, MemberFacts: chat.MemberFacts{Name: n.Display}}, inc)
	var got []keyRev
	undo := func() {
		for _, k := range got {
			if err := l.c.kv.Delete(ctx, k.key, jetstream.LastRevision(k.rev)); err != nil {
				l.mu.Lock()
				l.garbage = append(l.garbage, k)
				l.wakeLocked()
				l.mu.Unlock()
			}
		}
	}
	for _, key := range keys {
		rev, err := l.takeKey(ctx, key, value, holder, inc)
		if err != nil {
			undo()
			return err
		}
		got = append(got, keyRev{key: key, rev: rev, holder: holder})
	}
	l.mu.Lock()
	if l.inc != inc { // the lease was lost meanwhile: the keys name a dead incarnation
		l.mu.Unlock()
		undo()
		return errNoLease
	}
	defer l.mu.Unlock()
	cl := l.held[holder]
	if cl == nil {
		cl = &claim{keys: make(map[string]*keyRev)}
		l.held[holder] = cl
	}
	if cl.value == nil {
		cl.value = value
	} else {
		cl.dirty = true // the new keys have a bare value; the next write gives them all
		l.wakeLocked()
	}
	for _, k := range got {
		cl.keys[k.key] = &k
	}
	return nil
}

// takeKey creates key for holder, or finds it holder's already, or takes it over from a
// holder whose node's incarnation is gone, or from a member of this node that freed it a
// moment ago (its delete still on its way). A key that changes while this is decided is tried
// again.
func (l *claims) takeKey(ctx context.Context, key string, value []byte, holder uint64, inc string) (uint64, error) {
	for range 5 {
		rev, err := l.c.kv.Create(ctx, key, value)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
		e, ok, err := leaderGet(ctx, l.c.cfg.Conn, natsnode.NamesBucket, key)
		if err != nil {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
		if !ok {
			continue // freed meanwhile
		}
		h, err := parseHolding(e.value)
		ours := err == nil && h.Node == l.c.cfg.Node && h.Inc == inc
		switch {
		case err != nil:
			return 0, chat.ErrNameHeld
		case ours && h.Member == holder:
			return e.rev, nil
		case ours && l.holds(h.Member):
			return 0, chat.ErrNameHeld
		case !ours:
			alive, err := l.alive(ctx, h.Node, h.Inc)
			if err != nil {
				return 0, fmt.Errorf("cluster: claiming a name: %w", err)
			}
			if alive {
				return 0, chat.ErrNameHeld
			}
		}
		rev, err = l.c.kv.Update(ctx, key, value, e.rev)
		if err == nil {
			return rev, nil
		}
		if !isWrongSequence(err) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
	}
	return 0, chat.ErrNameHeld // it keeps changing: someone else's claim is as good as ours
}

// alive reports whether node's lease names inc: as this node saw it last, or else as the
// nodes bucket's leader has it now (a node that just took its lease may not be seen yet).
func (l *claims) alive(ctx context.Context, node, inc string) (bool, error) {
	if inc == "" {
		return false, nil // a key of an older hubbub, without incarnations: see docs/cluster.md
	}
	if l.c.leaseOf(node) == inc {
		return true, nil
	}
	e, ok, err := leaderGet(ctx, l.c.cfg.Conn, natsnode.NodesBucket, natsnode.Hex(node))
	if err != nil {
		return false, err
	}
	return ok && string(e.value) == inc, nil
}

// holds reports whether this node holds a claim for holder.
func (l *claims) holds(holder uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[holder] != nil || l.claiming[holder] > 0
}

func (l *claims) Rename(from, to chat.Name, holder uint64) error {
	old, keys := keysOf(from), keysOf(to)
	var add []string
	for _, k := range keys {
		if !slices.Contains(old, k) {
			add = append(add, k)
		}
	}
	if err := l.take(to, add, holder); err != nil {
		return err
	}
	var drop []string
	for _, k := range old {
		if !slices.Contains(keys, k) {
			drop = append(drop, k)
		}
	}
	l.free(holder, drop)
	return nil
}

func (l *claims) Release(n chat.Name, holder uint64) { l.free(holder, keysOf(n)) }

// free gives up holder's keys, deleting them in the background.
func (l *claims) free(holder uint64, keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl := l.held[holder]
	if cl == nil {
		return
	}
	for _, key := range keys {
		if k, ok := cl.keys[key]; ok {
			l.freeing = append(l.freeing, *k)
			delete(cl.keys, key)
		}
	}
	if len(cl.keys) == 0 {
		delete(l.held, holder)
	}
	l.wakeLocked()
}

// collectGarbage has run delete keys of an incarnation gone (their revisions as seen).
func (l *claims) collectGarbage(keys []keyRev) {
	if len(keys) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.garbage = append(l.garbage, keys...)
	l.wakeLocked()
}

// run writes changed values, deletes the keys freed and the garbage, and now and then looks
// for keys whose incarnation ended unseen, until the cluster closes.
func (l *claims) run() {
	tick := time.NewTicker(l.c.cfg.NameTTL / 3)
	defer tick.Stop()
	sweeps := 0
	l.sweep()
	for {
		select {
		case <-l.c.ctx.Done():
			return
		case <-l.wake:
		case <-tick.C:
			if sweeps++; sweeps%3 == 0 {
				l.sweep()
			}
			l.checkStaleLeases()
		}
		l.deleteFreed()
		l.writeValues()
	}
}

// rewriteAfter is how soon a presence value that was not written is tried again.
const rewriteAfter = 50 * time.Millisecond

// writeBatch is how many writes run has on the wire at once.
const writeBatch = 1024

// result is what became of one pipelined write.
type result struct {
	seq uint64
	err error
}

// pipeline publishes msgs without waiting for each acknowledgement before the next, at most
// writeBatch at a time, and returns what became of each.
func (l *claims) pipeline(ctx context.Context, msgs []*nats.Msg) []result {
	out := make([]result, len(msgs))
	for start := 0; start < len(msgs); start += writeBatch {
		end := min(start+writeBatch, len(msgs))
		futures := make([]jetstream.PubAckFuture, end-start)
		for i := start; i < end; i++ {
			f, err := l.js.PublishMsgAsync(msgs[i])
			if err != nil {
				out[i].err = err
				continue
			}
			futures[i-start] = f
		}
		for i, f := range futures {
			if f == nil {
				continue
			}
			select {
			case ack := <-f.Ok():
				out[start+i].seq = ack.Sequence
			case err := <-f.Err():
				out[start+i].err = err
			case <-ctx.Done():
				out[start+i].err = ctx.Err()
			}
		}
	}
	return out
}

// deleteMsg deletes k if its last sequence is still k.rev.
func deleteMsg(k keyRev) *nats.Msg {
	m := nats.NewMsg("$KV." + natsnode.NamesBucket + "." + k.key)
	m.Header.Set("KV-Operation", "DEL")
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(k.rev, 10))
	return m
}

func (l *claims) deleteFreed() {
	l.mu.Lock()
	freeing, garbage := l.freeing, l.garbage
	l.freeing, l.garbage = nil, nil
	inc := l.inc
	l.mu.Unlock()
	keys := append(freeing, garbage...)
	if len(keys) == 0 {
		return
	}
	msgs := make([]*nats.Msg, len(keys))
	for i, k := range keys {
		msgs[i] = deleteMsg(k)
	}
	var again []keyRev
	for i, r := range l.pipeline(l.c.ctx, msgs) {
		if r.err == nil || i >= len(freeing) {
			continue // garbage: whoever else deletes it or takes it over, it is gone
		}
		k := keys[i]
		if isWrongSequence(r.err) {
			// A write of ours kept though its acknowledgement was lost leaves our revision
			// behind: the key is ours still if it names its holder through this incarnation.
			rev, ok := l.stillOurs(k.key, k.holder, inc)
			if !ok {
				continue
			}
			k.rev = rev
		}
		again = append(again, k) // a key left would show its holder online: try again
	}
	if len(again) > 0 {
		l.mu.Lock()
		if l.inc == inc {
			l.freeing = append(l.freeing, again...)
		}
		l.mu.Unlock()
	}
}

// writeValues writes the changed values of the members held to their keys, each if its last
// sequence is still the one this node wrote.
func (l *claims) writeValues() {
	type job struct {
		holder uint64
		k      keyRev
	}
	var jobs []job
	var msgs []*nats.Msg
	l.mu.Lock()
	inc := l.inc
	for holder, cl := range l.held {
		if !cl.dirty {
			continue
		}
		cl.dirty = false
		for _, k := range cl.keys {
			jobs = append(jobs, job{holder, *k})
			m := nats.NewMsg("$KV." + natsnode.NamesBucket + "." + k.key)
			m.Data = cl.value
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(k.rev, 10))
			msgs = append(msgs, m)
		}
	}
	l.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	results := l.pipeline(l.c.ctx, msgs)
	var lost []uint64
	again := false
	for i, j := range jobs {
		r := results[i]
		taken, behind := false, uint64(0)
		if isWrongSequence(r.err) {
			// Behind a write kept without its acknowledgement, or taken by someone else (the
			// lease lost): ours if it names the holder through this incarnation.
			rev, ok := l.stillOurs(j.k.key, j.holder, inc)
			taken, behind = !ok, rev
		}
		l.mu.Lock()
		var k *keyRev
		cl := l.held[j.holder]
		if cl != nil && l.inc == inc {
			k = cl.keys[j.k.key]
		}
		switch {
		case k == nil && r.err == nil: // released meanwhile: free it at its new revision
			l.freeing = append(l.freeing, keyRev{key: j.k.key, rev: r.seq, holder: j.holder})
		case k == nil:
		case r.err == nil:
			k.rev = r.seq
		case taken:
			l.c.log.Warn("cluster: a name was taken from this node", "err", r.err)
			delete(l.held, j.holder)
			lost = append(lost, j.holder)
		default: // not written (a timeout, or behind a write kept): written again next time
			if behind != 0 {
				k.rev = behind
			}
			cl.dirty, again = true, true
		}
		l.mu.Unlock()
	}
	if again {
		// Soon, not at the next tick: others see a member's rooms from this value (/who), and
		// a write behind the claim's own create is the common case, at once right again.
		time.AfterFunc(rewriteAfter, func() {
			l.mu.Lock()
			l.wakeLocked()
			l.mu.Unlock()
		})
	}
	if f := l.lost.Load(); f != nil {
		for _, holder := range slices.Compact(lost) {
			(*f)(holder)
		}
	}
}

// stillOurs reads key from the leader and reports its revision if it names holder through inc.
func (l *claims) stillOurs(key string, holder uint64, inc string) (uint64, bool) {
	ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
	defer cancel()
	e, ok, err := leaderGet(ctx, l.c.cfg.Conn, natsnode.NamesBucket, key)
	if err != nil || !ok {
		return 0, false
	}
	h, err := parseHolding(e.value)
	return e.rev, err == nil && inc != "" && h.Member == holder && h.Node == l.c.cfg.Node && h.Inc == inc
}

// sweep deletes the keys this node sees whose holder's incarnation holds no lease, as the
// leader of the nodes bucket says: left by nodes that ended while nobody watched, or whose
// lease's end this node saw before their keys.
func (l *claims) sweep() {
	byNode := l.c.unleased()
	if len(byNode) == 0 {
		return
	}
	var gc []keyRev
	for node, keys := range byNode {
		ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
		e, ok, err := leaderGet(ctx, l.c.cfg.Conn, natsnode.NodesBucket, natsnode.Hex(node))
		cancel()
		if err != nil {
			return
		}
		for _, k := range keys {
			if !ok || string(e.value) != k.inc {
				gc = append(gc, k.keyRev)
			}
		}
	}
	l.collectGarbage(gc)
}

// checkStaleLeases asks the nodes bucket's leader about each lease not seen renewed for a
// TTL, and ends those it no longer has.
func (l *claims) checkStaleLeases() {
	for node, inc := range l.c.staleLeases(l.c.cfg.NameTTL) {
		ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
		e, ok, err := leaderGet(ctx, l.c.cfg.Conn, natsnode.NodesBucket, natsnode.Hex(node))
		cancel()
		switch {
		case err != nil:
			l.c.log.Warn("cluster: cannot ask whether a node that went quiet still holds its lease", "node", node, "err", err)
		case !ok || string(e.value) != inc:
			l.c.leaseGone(node, inc)
		}
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// releaseAll deletes every key this node holds, then its lease: what a node stopping does, so
// that its names are free at once rather than when its lease expires.
func (l *claims) releaseAll() {
	l.mu.Lock()
	for holder, cl := range l.held {
		for _, k := range cl.keys {
			l.freeing = append(l.freeing, *k)
		}
		delete(l.held, holder)
	}
	keys := append(l.freeing, l.garbage...)
	l.freeing, l.garbage = nil, nil
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	msgs := make([]*nats.Msg, len(keys))
	for i, k := range keys {
		msgs[i] = deleteMsg(k)
	}
	l.pipeline(ctx, msgs)
	l.releaseLease(ctx)
}
