package natsstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
// and Forget, which the chat calls under its lock); Close stops both.
//
// LOCKING: RoomStore.mu guards the records seen, the queue and the chat's callback; it is a
// leaf: nothing is called, and nothing waited on, while it is held (the callback is called
// after it is let go).

// RoomStore is the rooms bucket, watched.
type RoomStore struct {
	log     *slog.Logger
	b       *bucket
	watcher jetstream.KeyWatcher

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{}
	// idle is closed by the writer when it has emptied the queue after Close asked it to
	// (closing): a stopping node's owners pass their rooms on before it goes.
	idle chan struct{}

	mu      sync.Mutex
	closing bool                // guarded by mu
	seen    map[string]seenRoom // key → the newest record (or deletion) heard of; guarded by mu
	queue   []roomOp            // guarded by mu
	changed func(room string)   // the chat's; guarded by mu
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
	rs := &RoomStore{log: log, b: b, wake: make(chan struct{}, 1), idle: make(chan struct{}), seen: make(map[string]seenRoom)}
	rs.ctx, rs.cancel = context.WithCancel(context.Background())
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

// Claim implements chat.Rooms.
func (rs *RoomStore) Claim(room string, want chat.RoomRecord, stale func(chat.RoomRecord) bool) (chat.RoomRecord, error) {
	ctx, cancel := context.WithTimeout(rs.ctx, requestTimeout)
	defer cancel()
	key := roomKey(room)
	for range roomAttempts {
		rec, rev, ok, err := rs.current(ctx, key)
		if err != nil {
			return chat.RoomRecord{}, err
		}
		if ok && !stale(rec) {
			rs.note(key, seenRoom{rec: rec})
			return rec, nil
		}
		got, err := rs.b.write(ctx, key, encodeRoom(want), rev, 0)
		if errors.Is(err, errChanged) {
			continue // another node wrote first: read what it wrote
		}
		if err != nil {
			return chat.RoomRecord{}, err
		}
		want.Rev, want.Time = got, time.Now()
		rs.note(key, seenRoom{rec: want})
		return want, nil
	}
	return chat.RoomRecord{}, fmt.Errorf("rooms: claim: %w", errBusyKey)
}

// SetTopic implements chat.Rooms.
func (rs *RoomStore) SetTopic(room string, want chat.RoomRecord) error {
	ctx, cancel := context.WithTimeout(rs.ctx, requestTimeout)
	defer cancel()
	key := roomKey(room)
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
	rs.queue = append(rs.queue, op)
	rs.mu.Unlock()
	select {
	case rs.wake <- struct{}{}:
	default:
	}
}

// write applies queued changes in order until Close.
func (rs *RoomStore) write() {
	for {
		rs.mu.Lock()
		ops := rs.queue
		rs.queue = nil
		closing := rs.closing
		rs.mu.Unlock()
		for _, op := range ops {
			rs.applyWithRetries(op)
		}
		if len(ops) == 0 {
			if closing {
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
		if _, err := rs.b.write(ctx, op.key, encodeRoom(*op.remake), rev, 0); err != nil && !errors.Is(err, errChanged) {
			return err
		}
		return nil // or someone made it meanwhile: the watcher tells
	}
	if err != nil || !ok || op.remake != nil {
		return err
	}
	if op.forget {
		if rev != op.rev {
			return nil
		}
		if err := rs.b.purge(ctx, op.key, rev); err != nil && !errors.Is(err, errChanged) {
			return err
		}
		return nil
	}
	if rec.Owner != op.from {
		return nil
	}
	rec.Owner, rec.OwnerName = op.to, op.toName
	if _, err := rs.b.write(ctx, op.key, encodeRoom(rec), rev, 0); errors.Is(err, errChanged) {
		return rs.apply(op) // a topic set meanwhile: try again on top of it
	} else if err != nil {
		return err
	}
	return nil
}
