package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// claims is chat.Names on the names bucket: each skeleton of a name is a key, created to
// claim it (which fails if anyone holds it), given a TTL, refreshed every TTL/3 by a publish
// that expects the key's last sequence to be ours, and deleted to release it. A claim this
// node cannot refresh in time, or that someone else holds by then, is lost: its member is
// disconnected (fail closed), so a name is never held twice.
type claims struct {
	c    *Cluster
	lost atomic.Pointer[func(holder uint64)] // set by NewNames

	mu      sync.Mutex
	held    map[uint64]*claim // by holder
	freeing []keyRev          // keys to delete, by run
	wake    chan struct{}     // run has keys to free or values to write
}

// claim is what one member holds.
type claim struct {
	value []byte             // its presence, as the bucket keeps it
	dirty bool               // value changed since its keys were written
	keys  map[string]*keyRev // the bucket keys it holds, by key
}

type keyRev struct {
	key string
	rev uint64    // the key's sequence as this node last wrote it
	ok  time.Time // when it was last written: it expires NameTTL later
}

func newClaims(c *Cluster) *claims {
	return &claims{c: c, held: make(map[uint64]*claim), wake: make(chan struct{}, 1)}
}

func (l *claims) value(p chat.Presence) []byte {
	p.Node = l.c.cfg.Node
	b, _ := json.Marshal(p)
	return b
}

func parsePresence(b []byte) (chat.Presence, error) {
	var p chat.Presence
	if err := json.Unmarshal(b, &p); err != nil {
		return chat.Presence{}, fmt.Errorf("a name's holder: %w", err)
	}
	return p, nil
}

// Update keeps p as the holder's value, written to its keys in the background.
func (l *claims) Update(p chat.Presence) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl := l.held[p.Member]
	if cl == nil {
		return
	}
	cl.value, cl.dirty = l.value(p), true
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
	ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
	defer cancel()
	value := l.value(chat.Presence{Member: holder, MemberFacts: chat.MemberFacts{Name: n.Display}})
	var got []keyRev
	undo := func() {
		for _, k := range got {
			l.c.kv.Delete(ctx, k.key, jetstream.LastRevision(k.rev))
		}
	}
	for _, key := range keys {
		rev, err := l.takeKey(ctx, key, value, holder)
		if err != nil {
			undo()
			return err
		}
		got = append(got, keyRev{key: key, rev: rev, ok: time.Now()})
	}
	l.mu.Lock()
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
// member of this node that freed it a moment ago (its delete still on its way). A key that
// changes while this is decided is tried again.
func (l *claims) takeKey(ctx context.Context, key string, value []byte, holder uint64) (uint64, error) {
	for range 5 {
		rev, err := l.c.kv.Create(ctx, key, value, jetstream.KeyTTL(l.c.cfg.NameTTL))
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
		e, err := l.c.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // freed meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
		p, err := parsePresence(e.Value())
		switch {
		case err != nil:
			return 0, chat.ErrNameHeld
		case p.Member == holder:
			return e.Revision(), nil
		case p.Node != l.c.cfg.Node || l.holds(p.Member):
			return 0, chat.ErrNameHeld
		}
		if rev, err := l.rewrite(keyRev{key: key, rev: e.Revision()}, value); err == nil {
			return rev, nil
		} else if !isWrongSequence(err) {
			return 0, fmt.Errorf("cluster: claiming a name: %w", err)
		}
	}
	return 0, chat.ErrNameHeld // it keeps changing: someone else's claim is as good as ours
}

// holds reports whether this node holds a claim for holder.
func (l *claims) holds(holder uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[holder] != nil
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

// run refreshes the claims and deletes the keys freed, until the cluster closes.
func (l *claims) run() {
	every := l.c.cfg.NameTTL / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.c.ctx.Done():
			return
		case <-l.wake:
			l.deleteFreed()
			l.refresh(true)
		case <-tick.C:
			l.deleteFreed()
			l.refresh(false)
		}
	}
}

func (l *claims) deleteFreed() {
	l.mu.Lock()
	keys := l.freeing
	l.freeing = nil
	l.mu.Unlock()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
		// Only if it is still ours: a key that expired may be someone else's now.
		if err := l.c.kv.Delete(ctx, k.key, jetstream.LastRevision(k.rev)); err != nil {
			l.c.log.Debug("cluster: a name was not freed, it will expire", "err", err)
		}
		cancel()
	}
}

// refresh writes each key held again (only those of changed values when dirtyOnly), with a new
// TTL, if it is still this node's.
func (l *claims) refresh(dirtyOnly bool) {
	type job struct {
		holder uint64
		value  []byte
		k      keyRev
	}
	var jobs []job
	l.mu.Lock()
	for holder, cl := range l.held {
		if dirtyOnly && !cl.dirty {
			continue
		}
		cl.dirty = false
		for _, k := range cl.keys {
			jobs = append(jobs, job{holder, cl.value, *k})
		}
	}
	l.mu.Unlock()
	var lost []uint64
	for _, j := range jobs {
		rev, err := l.rewrite(j.k, j.value)
		written := time.Now()
		if isWrongSequence(err) {
			// A refresh whose acknowledgement was lost (it timed out under load) was kept all
			// the same, and this node's revision is behind: the key is still ours if it names
			// the holder, and then it was written at most a request's time ago.
			if r, ok := l.stillOurs(j.k.key, j.holder); ok {
				rev, err, written = r, nil, written.Add(-requestTimeout)
			}
		}
		l.mu.Lock()
		cl := l.held[j.holder]
		var k *keyRev
		if cl != nil {
			k = cl.keys[j.k.key]
		}
		switch {
		case err == nil && k != nil:
			k.rev, k.ok = rev, written
		case err == nil: // released meanwhile: free it at its new revision
			l.freeing = append(l.freeing, keyRev{key: j.k.key, rev: rev})
			l.wakeLocked()
		case k != nil && (isWrongSequence(err) || time.Since(k.ok) > l.c.cfg.NameTTL*5/6):
			// Someone else's now, or about to expire unrefreshed: the member must go.
			l.c.log.Warn("cluster: a name could not be kept", "err", err)
			delete(l.held, j.holder)
			lost = append(lost, j.holder)
		}
		l.mu.Unlock()
	}
	if f := l.lost.Load(); f != nil {
		for _, holder := range slices.Compact(lost) {
			(*f)(holder)
		}
	}
}

// stillOurs reads key and reports its revision if it names holder.
func (l *claims) stillOurs(key string, holder uint64) (uint64, bool) {
	ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
	defer cancel()
	e, err := l.c.kv.Get(ctx, key)
	if err != nil {
		return 0, false
	}
	p, err := parsePresence(e.Value())
	return e.Revision(), err == nil && p.Member == holder
}

// rewrite writes value to k again with a new TTL, if its last sequence is still k.rev.
func (l *claims) rewrite(k keyRev, value []byte) (uint64, error) {
	ctx, cancel := context.WithTimeout(l.c.ctx, requestTimeout)
	defer cancel()
	msg := &nats.Msg{Subject: "$KV." + natsnode.NamesBucket + "." + k.key, Data: value}
	ack, err := l.c.js.PublishMsg(ctx, msg, jetstream.WithMsgTTL(l.c.cfg.NameTTL),
		jetstream.WithExpectLastSequencePerSubject(k.rev))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// releaseAll deletes every key this node holds: what a node stopping does, so that its names
// are free at once rather than when they expire.
func (l *claims) releaseAll() {
	l.mu.Lock()
	for holder, cl := range l.held {
		for _, k := range cl.keys {
			l.freeing = append(l.freeing, *k)
		}
		delete(l.held, holder)
	}
	keys := l.freeing
	l.freeing = nil
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, k := range keys {
		l.c.kv.Delete(ctx, k.key, jetstream.LastRevision(k.rev))
	}
}
