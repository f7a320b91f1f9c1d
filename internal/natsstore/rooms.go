package natsstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// Rooms' records in the rooms bucket (chat.Rooms): one key per room, the hex of its key, holding
// its owner (a member number, on whichever node) and its topic. A record is made with a write
// that expects the key's last revision, so that of nodes making one room at once one wins; every
// node watches the bucket and keeps the newest record of each room in memory, for the chat to
// read under its lock and to hear of changes.
//
// Goroutines: a RoomStore owns two, the watcher's reader and the writer of queued changes (Pass
// and Forget, which the chat calls under its lock); Close stops both. A Claim runs on its
// caller's goroutine; what it waits on ends at StopClaims or Close.
//
// Changes of one key are written in the order they were queued, one at a time: by the writer,
// or by a Claim of that key, which first writes those queued before it (a room emptied here a
// moment ago is forgotten before it is made again: its maker does not read the old record).
// A key being written is busy: the writer passes over its changes until it is let go.
//
// LOCKING: RoomStore.mu guards the records seen, the queue, the busy keys and the chat's
// callback; it is a leaf: nothing is called, and nothing waited on, while it is held (the
// callback is called after it is let go).

// RoomStore is the rooms bucket, watched.
type RoomStore struct {
	log     *slog.Logger
	b       *bucket
	watcher jetstream.KeyWatcher

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	// claims ends at StopClaims or at the start of Close: a claim waiting for a record to
	// settle (its stale) gives up, and none writes any more.
	claims    context.Context
	endClaims context.CancelFunc
	// claimTimeout bounds each of a claim's requests (its read, its write): requestTimeout,
	// shorter in tests, which would otherwise wait as long to see a claim outlast it.
	claimTimeout time.Duration
	wg           sync.WaitGroup
	wake         chan struct{}
	// idle is closed by the writer when it has emptied the queue after Close asked it to
	// (closing): a stopping node's owners pass their rooms on before it goes.
	idle chan struct{}

	mu      sync.Mutex
	closing bool                // guarded by mu
	seen    map[string]seenRoom // key → the newest record (or deletion) heard of; guarded by mu
	queue   []roomOp            // guarded by mu
	// busy holds the keys being written (by the writer or a Claim); letGo is closed, and
	// made again, each time one is let go. Guarded by mu.
	busy  map[string]bool
	letGo chan struct{}
	// wrote is, for each key, the last revision this node wrote and when: a Forget deletes a
	// record changed since the chat read it if the change is this node's own and came before
	// the Forget (a Pass queued before it, a topic set), never one that came after it (a claim
	// that made the room again while the Forget waited for it). Guarded by mu.
	wrote map[string]ownWrite
	// stamps counts the store's changes as they are decided: a queued change gets the next at
	// its queueing, a claim's write when it is written, a topic when it is asked for. It
	// orders a Forget against this node's writes. Guarded by mu.
	stamps  uint64
	changed func(room string) // the chat's; guarded by mu
}

// ownWrite is a revision of a key this node wrote, and its stamp (see RoomStore.stamps).
type ownWrite struct {
	rev, stamp uint64
}

// seenRoom is the newest revision of a room's key: a record, or its deletion.
type seenRoom struct {
	rec  chat.RoomRecord
	gone bool
}

// roomValue is what a room's key holds.
type roomValue struct {
	Name      string `json:"name"`
	Owner     uint64 `json:"owner,omitempty"`
	OwnerName string `json:"owner_name,omitempty"`
	Topic     string `json:"topic,omitempty"`
}

// roomOp is a queued change: a Pass, a Forget or a Remake.
type roomOp struct {
	key      string
	stamp    uint64 // when it was queued (see RoomStore.stamps)
	forget   bool
	rev      uint64 // Forget: the revision to delete
	from, to uint64 // Pass
	toName   string
	remake   *chat.RoomRecord // Remake: written if the key has no record
}

// Bounds of the rooms' writer.
const (
	maxRoomQueue  = 4096 // past it a change is dropped and logged: a stale record is taken over
	roomAttempts  = 5
	roomFirstWait = 200 * time.Millisecond
)

var _ chat.Rooms = (*RoomStore)(nil)

// OpenRooms opens the rooms bucket (natsnode.Provision makes it) and starts watching it.
func OpenRooms(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*RoomStore, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b, err := openBucket(ctx, js, natsnode.RoomsBucket, false)
	if err != nil {
		return nil, err
	}
	rs := &RoomStore{log: log, b: b, wake: make(chan struct{}, 1), idle: make(chan struct{}), seen: make(map[string]seenRoom),
		busy: make(map[string]bool), letGo: make(chan struct{}), wrote: make(map[string]ownWrite), claimTimeout: requestTimeout}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
	rs.claims, rs.endClaims = context.WithCancel(rs.ctx)
	wctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// The watcher lives as long as rs: its context is rs's, not the caller's.
	if rs.watcher, err = b.kv.WatchAll(rs.ctx); err != nil {
		rs.cancel()
		return nil, fmt.Errorf("natsstore: watch %s: %w", natsnode.RoomsBucket, err)
	}
	// The records there are now are read before OpenRooms returns.
	if err := rs.readInitial(wctx); err != nil {
		rs.watcher.Stop()
		rs.cancel()
		return nil, err
	}
	rs.wg.Add(2)
	go func() {
		defer rs.wg.Done()
		rs.watch()
	}()
	go func() {
		defer rs.wg.Done()
		rs.write()
	}()
	return rs, nil
}

// Bind has the store tell changed of each room whose record changes from now on, and returns
// it as the chat's Rooms: what chat.Config.NewRooms is.
func (rs *RoomStore) Bind(changed func(room string)) chat.Rooms {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.changed = changed
	return rs
}

// drainFor bounds how long Close writes the changes still queued.
const drainFor = 5 * time.Second

// Close writes the changes still queued (a stopping node's owners passing their rooms to
// members on other nodes), for at most drainFor, then stops watching and writing. What is
// not written by then is dropped: those records are stale, and taken over when their room is
// made again.
func (rs *RoomStore) Close() {
	rs.endClaims()
	rs.mu.Lock()
	rs.closing = true
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
	drained := time.NewTimer(drainFor)
	defer drained.Stop()
	select {
	case <-rs.idle:
	case <-drained.C:
		rs.log.Warn("rooms: stopping before every change of the rooms' records was written")
	}
	rs.cancel()
	rs.watcher.Stop()
	rs.wg.Wait()
}

// StopClaims ends the claims: one waiting for a record to settle gives up, and every claim
// from now on fails without writing. A stopping node calls it before it waits for its
// connections to end, each of which may be joining a room; Close does it too.
func (rs *RoomStore) StopClaims() { rs.endClaims() }

func (rs *RoomStore) readInitial(ctx context.Context) error {
	for {
		select {
		case e, ok := <-rs.watcher.Updates():
			if !ok {
				return fmt.Errorf("natsstore: watch %s: ended", natsnode.RoomsBucket)
			}
			if e == nil {
				return nil // the end of what there was
			}
			rs.heard(e)
		case <-ctx.Done():
			return fmt.Errorf("natsstore: watch %s: %w", natsnode.RoomsBucket, ctx.Err())
		}
	}
}

func (rs *RoomStore) watch() {
	for {
		select {
		case e, ok := <-rs.watcher.Updates():
			if !ok {
				return
			}
			if e != nil {
				rs.heard(e)
			}
		case <-rs.ctx.Done():
			return
		}
	}
}

// heard keeps what the watcher said of a key and tells the chat.
func (rs *RoomStore) heard(e jetstream.KeyValueEntry) {
	s := seenRoom{gone: e.Operation() != jetstream.KeyValuePut}
	if !s.gone {
		var err error
		if s.rec, err = decodeRoom(e.Value()); err != nil {
			rs.log.Warn("rooms: a record that does not parse is left out", "err", err)
			return
		}
	}
	s.rec.Rev, s.rec.Time = e.Revision(), e.Created()
	if s.gone {
		rs.mu.Lock()
		if rs.wrote[e.Key()].rev < s.rec.Rev {
			delete(rs.wrote, e.Key()) // deleted after this node's last write: nothing to remember
		}
		rs.mu.Unlock()
	}
	rs.note(e.Key(), s)
}

// note keeps s as the key's newest revision unless a newer one is known, and tells the chat.
func (rs *RoomStore) note(key string, s seenRoom) {
	rs.mu.Lock()
	if old, ok := rs.seen[key]; ok && old.rec.Rev >= s.rec.Rev {
		rs.mu.Unlock()
		return
	}
	rs.seen[key] = s
	changed := rs.changed
	rs.mu.Unlock()
	room, err := hex.DecodeString(key)
	if changed != nil && err == nil {
		changed(string(room))
	}
}

func decodeRoom(data []byte) (chat.RoomRecord, error) {
	var v roomValue
	if err := json.Unmarshal(data, &v); err != nil {
		return chat.RoomRecord{}, err
	}
	return chat.RoomRecord{Name: v.Name, Owner: v.Owner, OwnerName: v.OwnerName, Topic: v.Topic}, nil
}

func encodeRoom(rec chat.RoomRecord) []byte {
	b, _ := json.Marshal(roomValue{Name: rec.Name, Owner: rec.Owner, OwnerName: rec.OwnerName, Topic: rec.Topic})
	return b
}

// roomKey is the bucket's key of a room: no user text reaches a key as written.
func roomKey(room string) string { return natsnode.Hex(room) }

// Lookup implements chat.Rooms.
func (rs *RoomStore) Lookup(room string) (chat.RoomRecord, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	s, ok := rs.seen[roomKey(room)]
	if !ok || s.gone {
		return chat.RoomRecord{}, false
	}
	return s.rec, true
}

// current reads the room's record from the stream's leader: ok false when there is none (rev
// is then its deletion's, or 0).
func (rs *RoomStore) current(ctx context.Context, key string) (rec chat.RoomRecord, rev uint64, ok bool, err error) {
	e, ok, err := rs.b.get(ctx, key)
	if err != nil || !ok {
		return chat.RoomRecord{}, e.rev, false, err
	}
	if rec, err = decodeRoom(e.value); err != nil {
		return chat.RoomRecord{}, e.rev, false, nil // not one of ours: written over
	}
	rec.Rev, rec.Time = e.rev, e.time
	return rec, e.rev, true, nil
}

// errBusyKey: a key kept changing under every attempt to write it.
var errBusyKey = errors.New("the record kept changing")

// Claim implements chat.Rooms. The changes of the room's key queued before it (the room
// emptied here: its record forgotten, or passed on first) are written first, so that what it
// reads is what this node left of the room. The record it reads is noted before stale is
// asked (Lookup returns it, or a newer revision or its deletion once heard of): stale may wait
// for the record to change, until the context it is given ends (StopClaims, Close).
//
// A change of the key queued while the claim holds it (a Forget of the room's last record
// before this claim, its room emptied here meanwhile) is written after the claim, and does not
// take the claim's write for one of this node's changes it was queued after: the record the
// claim made stays.
func (rs *RoomStore) Claim(room string, want chat.RoomRecord, stale func(context.Context, chat.RoomRecord) bool) (chat.RoomRecord, error) {
	if err := rs.claims.Err(); err != nil {
		return chat.RoomRecord{}, fmt.Errorf("rooms: claim: stopping: %w", err)
	}
	key := roomKey(room)
	if err := rs.writeQueued(key); err != nil {
		return chat.RoomRecord{}, fmt.Errorf("rooms: claim: %w", err)
	}
	defer rs.letGoOf(key)
	for range roomAttempts {
		rec, ok, err := rs.claimOnce(key, want, stale)
		if err != nil {
			return chat.RoomRecord{}, fmt.Errorf("rooms: claim: %w", err)
		}
		if ok {
			return rec, nil
		}
	}
	return chat.RoomRecord{}, fmt.Errorf("rooms: claim: %w", errBusyKey)
}

// claimOnce is one attempt of Claim: ok false when another node wrote the record meanwhile.
// Its read and its write each have their own deadline: stale, between them, may wait for as
// long as a record takes to count as stale (chat's recordGrace), the length of a deadline.
func (rs *RoomStore) claimOnce(key string, want chat.RoomRecord, stale func(context.Context, chat.RoomRecord) bool) (chat.RoomRecord, bool, error) {
	rec, rev, ok, err := rs.claimRead(key)
	if err != nil {
		return chat.RoomRecord{}, false, err
	}
	if ok {
		rs.note(key, seenRoom{rec: rec})
		isStale := stale(rs.claims, rec)
		if err := rs.claims.Err(); err != nil {
			return chat.RoomRecord{}, false, fmt.Errorf("stopping: %w", err)
		}
		if !isStale {
			return rec, true, nil
		}
	}
	ctx, cancel := context.WithTimeout(rs.claims, rs.claimTimeout)
	defer cancel()
	got, err := rs.b.write(ctx, key, encodeRoom(want), rev, 0)
	if errors.Is(err, errChanged) {
		return chat.RoomRecord{}, false, nil // another node wrote first: read what it wrote
	}
	if err != nil {
		return chat.RoomRecord{}, false, err
	}
	want.Rev, want.Time = got, time.Now()
	// Stamped once written: a Forget queued while it was being decided is of the room as it
	// was before (see Claim).
	rs.wroteRev(key, got, 0)
	rs.note(key, seenRoom{rec: want})
	return want, true, nil
}

// claimRead is a claim's read of the record, with its own deadline.
func (rs *RoomStore) claimRead(key string) (rec chat.RoomRecord, rev uint64, ok bool, err error) {
	ctx, cancel := context.WithTimeout(rs.claims, rs.claimTimeout)
	defer cancel()
	return rs.current(ctx, key)
}

// writeQueued makes key busy, once nobody else is writing it, and writes the changes of it
// queued so far, in order; the caller lets go of it. A change it cannot write goes back to the
// head of the queue, for the writer to try again, and key is let go.
func (rs *RoomStore) writeQueued(key string) error {
	ctx, cancel := context.WithTimeout(rs.ctx, requestTimeout)
	defer cancel()
	rs.mu.Lock()
	for rs.busy[key] {
		letGo := rs.letGo
		rs.mu.Unlock()
		select {
		case <-letGo:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the changes queued before it: %w", ctx.Err())
		}
		rs.mu.Lock()
	}
	rs.busy[key] = true
	var mine []roomOp
	rs.queue = slices.DeleteFunc(rs.queue, func(op roomOp) bool {
		if op.key == key {
			mine = append(mine, op)
			return true
		}
		return false
	})
	rs.mu.Unlock()
	for i, op := range mine {
		if err := rs.apply(op); err != nil {
			rs.mu.Lock()
			rs.queue = append(slices.Clone(mine[i:]), rs.queue...)
			rs.mu.Unlock()
			rs.letGoOf(key)
			return fmt.Errorf("a change queued before it: %w", err)
		}
	}
	return nil
}

// letGoOf ends the writing of key, and wakes the writer, which may have passed over its
// changes, and whoever waits for the key.
func (rs *RoomStore) letGoOf(key string) {
	rs.mu.Lock()
	delete(rs.busy, key)
	close(rs.letGo)
	rs.letGo = make(chan struct{})
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// wroteRev keeps rev as the last revision of key this node wrote, decided at stamp (0: now).
func (rs *RoomStore) wroteRev(key string, rev, stamp uint64) {
	rs.mu.Lock()
	if stamp == 0 {
		rs.stamps++
		stamp = rs.stamps
	}
	rs.wrote[key] = ownWrite{rev: rev, stamp: stamp}
	rs.mu.Unlock()
}

// stamp returns the next of the store's stamps.
func (rs *RoomStore) stamp() uint64 {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.stamps++
	return rs.stamps
}

// SetTopic implements chat.Rooms.
func (rs *RoomStore) SetTopic(room string, want chat.RoomRecord) error {
	ctx, cancel := context.WithTimeout(rs.ctx, requestTimeout)
	defer cancel()
	key := roomKey(room)
	// Stamped when asked for: a member set the topic of a room it is in, a change of the room
	// that a Forget queued after it (its room emptied meanwhile) deletes with the rest.
	stamp := rs.stamp()
	for range roomAttempts {
		rec, rev, ok, err := rs.current(ctx, key)
		if err != nil {
			return err
		}
		if ok {
			rec.Topic = want.Topic // the owner stays the record's
		} else {
			rec = want
		}
		got, err := rs.b.write(ctx, key, encodeRoom(rec), rev, 0)
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			return err
		}
		rec.Rev, rec.Time = got, time.Now()
		rs.wroteRev(key, got, stamp)
		rs.note(key, seenRoom{rec: rec})
		return nil
	}
	return fmt.Errorf("rooms: topic: %w", errBusyKey)
}

// Pass implements chat.Rooms.
func (rs *RoomStore) Pass(room string, from, to uint64, toName string) {
	rs.enqueue(roomOp{key: roomKey(room), from: from, to: to, toName: toName})
}

// Forget implements chat.Rooms.
func (rs *RoomStore) Forget(room string, rev uint64) {
	if rev == 0 {
		return // never read from the bucket: nothing of ours to delete
	}
	rs.enqueue(roomOp{key: roomKey(room), forget: true, rev: rev})
}

// Remake implements chat.Rooms.
func (rs *RoomStore) Remake(room string, rec chat.RoomRecord) {
	rs.enqueue(roomOp{key: roomKey(room), remake: &rec})
}

func (rs *RoomStore) enqueue(op roomOp) {
	rs.mu.Lock()
	if len(rs.queue) >= maxRoomQueue {
		rs.mu.Unlock()
		rs.log.Error("rooms: a change of a room's record is dropped: too many are queued")
		return
	}
	rs.stamps++
	op.stamp = rs.stamps
	rs.queue = append(rs.queue, op)
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// write applies queued changes in order until Close, passing over those of a busy key (a
// Claim writing it), which are written once it is let go.
func (rs *RoomStore) write() {
	for {
		rs.mu.Lock()
		i := slices.IndexFunc(rs.queue, func(op roomOp) bool { return !rs.busy[op.key] })
		var op roomOp
		if i >= 0 {
			op = rs.queue[i]
			rs.queue = slices.Delete(rs.queue, i, i+1)
			rs.busy[op.key] = true
		}
		idle := rs.closing && len(rs.queue) == 0 && i < 0
		rs.mu.Unlock()
		if i >= 0 {
			rs.applyWithRetries(op)
			rs.letGoOf(op.key)
			continue
		}
		if idle {
			close(rs.idle)
			<-rs.ctx.Done()
			return
		}
		select {
		case <-rs.wake:
		case <-rs.ctx.Done():
			return
		}
	}
}

func (rs *RoomStore) applyWithRetries(op roomOp) {
	wait := roomFirstWait
	var err error
	for attempt := 1; attempt <= roomAttempts; attempt++ {
		if err = rs.apply(op); err == nil || rs.ctx.Err() != nil {
			return
		}
		select {
		case <-time.After(wait):
		case <-rs.ctx.Done():
			return
		}
		wait *= 2
	}
	rs.log.Error("rooms: a change of a room's record is not kept", "forget", op.forget, "err", err)
}

// apply writes one change, if the record is still what it expects: a change that finds the
// record changed meanwhile has nothing to do (someone else passed or made the room since).
func (rs *RoomStore) apply(op roomOp) error {
	ctx, cancel := context.WithTimeout(rs.ctx, requestTimeout)
	defer cancel()
	rec, rev, ok, err := rs.current(ctx, op.key)
	if op.remake != nil && err == nil && !ok {
		got, err := rs.b.write(ctx, op.key, encodeRoom(*op.remake), rev, 0)
		if err != nil && !errors.Is(err, errChanged) {
			return err
		}
		if err == nil {
			rs.wroteRev(op.key, got, op.stamp)
		}
		return nil // or someone made it meanwhile: the watcher tells
	}
	if err != nil || !ok || op.remake != nil {
		return err
	}
	if op.forget {
		// Changed since the chat read it: by another node (someone made the room again, or
		// passed it to a member of theirs), or by this node: a change that came before the
		// Forget (its Pass, a topic set, not yet heard back when the room emptied) is of the
		// room that emptied, and goes with it; one that came after is not (a claim made the
		// room again while the Forget waited for it: someone is in the room).
		rs.mu.Lock()
		w := rs.wrote[op.key]
		ours := w.rev == rev && w.stamp < op.stamp
		rs.mu.Unlock()
		if rev != op.rev && !ours {
			return nil
		}
		if err := rs.b.purge(ctx, op.key, rev); err != nil && !errors.Is(err, errChanged) {
			return err
		}
		rs.mu.Lock()
		delete(rs.wrote, op.key)
		rs.mu.Unlock()
		return nil
	}
	if rec.Owner != op.from {
		return nil
	}
	rec.Owner, rec.OwnerName = op.to, op.toName
	got, err := rs.b.write(ctx, op.key, encodeRoom(rec), rev, 0)
	if errors.Is(err, errChanged) {
		return rs.apply(op) // a topic set meanwhile: try again on top of it
	} else if err != nil {
		return err
	}
	rs.wroteRev(op.key, got, op.stamp)
	return nil
}
