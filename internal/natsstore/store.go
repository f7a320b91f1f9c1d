// Package natsstore keeps accounts, web login tokens and bans in the JetStream key-value buckets
// every node of a cluster shares (docs/cluster.md), so that an account registered on one node
// logs in on every other, and no two nodes can each register a look-alike of one name. It
// implements chat.Accounts, chat.BanList and wsgateway.Tokens, as internal/sqlite does for a
// single node, and the few methods `hubbub account` needs beyond them (ListAccounts, SetOper).
//
// Reads that decide something (is this name registered, whose is this token, what is this
// account's hash) go to the leader of the bucket's stream, never to a replica through a direct
// get, which may answer with a value older than a write already acknowledged: a node would
// then fail to read back an account it has just made, or let a revoked token in. Listings
// (ListAccounts, Bans, an account's tokens) ask the leader too, for the keys, then each value.
//
// Goroutines: the Store owns one, the writer of bans (SaveBan and DeleteBan only queue, since
// the chat calls them under its lock); Close drains the queue, within closeTimeout, and stops it.
//
// LOCKING: Store.mu guards the queue of bans to write; it is a leaf: nothing is called, and
// nothing waited on, while it is held.
package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/natsnode"
)

// Config says how the store behaves; the zero value is the default.
type Config struct {
	// TokenLifetime is how long a web login token lives after it was last used: 0 means
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// TokenRefresh is how often, at most, a token's use pushes its expiry back: 0 means
	// DefaultTokenRefresh.
	TokenRefresh time.Duration
	// Log gets what goes wrong in the background (bans that could not be written); nil: discarded.
	Log *slog.Logger
}

// Defaults of Config, as internal/sqlite has them, so that a web login lasts as long in a
// cluster as on one node.
const (
	DefaultTokenLifetime = 30 * 24 * time.Hour
	DefaultTokenRefresh  = time.Hour
)

// Bounds of the store's work.
const (
	// requestTimeout bounds each request to JetStream made without the caller's deadline, and
	// each call of the chat's, which may come without one.
	requestTimeout = 10 * time.Second
	// closeTimeout bounds how long Close waits for queued bans to be written.
	closeTimeout = 10 * time.Second
	// maxBanQueue bounds the bans waiting to be written: past it one is dropped and logged
	// (SaveBan must never wait). Operators ban by hand; this is never reached but by a fault.
	maxBanQueue = 1024
)

// Store is accounts, tokens and bans on the cluster's buckets. Its methods are safe for
// concurrent use; Close it when the hub has stopped.
type Store struct {
	cfg      Config
	log      *slog.Logger
	accounts *bucket
	tokens   *bucket
	bans     *bucket
	mutes    *bucket

	ctx    context.Context // ends when Close gives up waiting for the writer
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has returned

	mu      sync.Mutex
	queue   []banOp // guarded by mu
	closing bool    // guarded by mu
	wake    chan struct{}
}

// New opens the store on js. The buckets must exist with per-key TTL on those that need it
// (natsnode.Provision makes them so); New does not make them.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.TokenRefresh <= 0 {
		cfg.TokenRefresh = DefaultTokenRefresh
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	var err error
	if s.accounts, err = openBucket(ctx, js, natsnode.AccountsBucket, false); err != nil {
		return nil, err
	}
	if s.tokens, err = openBucket(ctx, js, natsnode.TokensBucket, true); err != nil {
		return nil, err
	}
	if s.bans, err = openBucket(ctx, js, natsnode.BansBucket, true); err != nil {
		return nil, err
	}
	if s.mutes, err = openBucket(ctx, js, natsnode.MutesBucket, true); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.writeBans()
	return s, nil
}

// Close writes the bans still queued, waiting at most closeTimeout, and stops the writer.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closing = true
	left := len(s.queue)
	s.mu.Unlock()
	s.poke()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-t.C:
	}
	s.cancel()
	<-s.done
	return fmt.Errorf("natsstore: close: bans still being written after %v (%d were queued)", closeTimeout, left)
}

// bucket is one key-value bucket, read through its stream's leader.
type bucket struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	name   string
	keyTTL bool // the bucket takes a TTL per key (and so on its delete markers)
}

func openBucket(ctx context.Context, js jetstream.JetStream, name string, needTTL bool) (*bucket, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	kv, err := js.KeyValue(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %s: %w (natsnode.Provision makes it)", name, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %s: %w", name, err)
	}
	hasTTL := st.LimitMarkerTTL() > 0
	if needTTL && !hasTTL {
		return nil, fmt.Errorf("natsstore: bucket %s takes no TTL per key: provision it again with this version (natsnode.Provision)", name)
	}
	return &bucket{js: js, kv: kv, name: name, keyTTL: hasTTL}, nil
}

func (b *bucket) subject(key string) string { return "$KV." + b.name + "." + key }

// entry is a key's live value as the leader has it.
type entry struct {
	value []byte
	rev   uint64
	time  time.Time // when it was last written
}

// errChanged: a write that expected a key's revision found another (someone wrote first).
var errChanged = errors.New("changed meanwhile")

// errExists: a create found the key held.
var errExists = errors.New("key exists")

// get reads key from the stream's leader. ok is false when the key was never written, or was
// deleted or expired (rev is then the marker's revision, 0 when there is none).
func (b *bucket) get(ctx context.Context, key string) (e entry, ok bool, err error) {
	req, _ := json.Marshal(map[string]string{"last_by_subj": b.subject(key)})
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	msg, err := b.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+b.name, req)
	if err != nil {
		return entry{}, false, fmt.Errorf("read %s: %w", b.name, err)
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq    uint64    `json:"seq"`
			Header []byte    `json:"hdrs"`
			Data   []byte    `json:"data"`
			Time   time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return entry{}, false, fmt.Errorf("read %s: %w", b.name, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound) {
			return entry{}, false, nil
		}
		return entry{}, false, fmt.Errorf("read %s: %s (code %d)", b.name, resp.Error.Description, resp.Error.ErrCode)
	}
	if resp.Message == nil {
		return entry{}, false, fmt.Errorf("read %s: an empty answer", b.name)
	}
	m := resp.Message
	e = entry{value: m.Data, rev: m.Seq, time: m.Time}
	if len(m.Header) > 0 {
		h, err := nats.DecodeHeadersMsg(m.Header)
		if err != nil {
			return entry{}, false, fmt.Errorf("read %s: %w", b.name, err)
		}
		if h.Get("KV-Operation") != "" || h.Get(jetstream.MarkerReasonHeader) != "" {
			return entry{rev: m.Seq}, false, nil // deleted, purged or expired
		}
	}
	return e, true, nil
}

// write publishes value to key, expecting its last revision to be rev (0: no value, ever or
// since its last purge marker expired); ttl 0 keeps it until deleted.
func (b *bucket) write(ctx context.Context, key string, value []byte, rev uint64, ttl time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(rev)}
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.subject(key), Data: value}, opts...)
	if isWrongSequence(err) {
		return 0, errChanged
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", b.name, err)
	}
	return ack.Sequence, nil
}

// put publishes value to key whatever it holds.
func (b *bucket) put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var opts []jetstream.PublishOpt
	if ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	if _, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: b.subject(key), Data: value}, opts...); err != nil {
		return fmt.Errorf("write %s: %w", b.name, err)
	}
	return nil
}

// create writes key unless it holds a live value (errExists). A key deleted before is written
// over its delete marker.
func (b *bucket) create(ctx context.Context, key string, value []byte, ttl time.Duration) (uint64, error) {
	var rev uint64
	for range 5 {
		got, err := b.write(ctx, key, value, rev, ttl)
		if !errors.Is(err, errChanged) {
			return got, err
		}
		e, ok, err := b.get(ctx, key)
		if err != nil {
			return 0, err
		}
		if ok {
			return 0, errExists
		}
		rev = e.rev // a delete marker, or 0 when even that expired meanwhile
	}
	return 0, errExists // it keeps changing: someone else's write is as good as ours
}

// purge removes every value of key, leaving a marker that says so (which expires, in a bucket
// with a TTL per key). rev, if not 0, is the revision the key must have.
func (b *bucket) purge(ctx context.Context, key string, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var opts []jetstream.KVDeleteOpt
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	if b.keyTTL {
		opts = append(opts, jetstream.PurgeTTL(natsnode.MarkerTTL))
	}
	err := b.kv.Purge(ctx, key, opts...)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || isWrongSequence(err) {
		return errChanged
	}
	if err != nil {
		return fmt.Errorf("delete from %s: %w", b.name, err)
	}
	return nil
}

// keyEntry is a key and its live value.
type keyEntry struct {
	key string
	entry
}

// list returns the live entries of keys matching filter (a key with wildcards; ">" for all).
// The keys come from the stream's leader (its subjects), and each value from the leader too:
// a watcher's consumer may sit on a replica that lags, and a listing that misses a token made
// a moment ago would let it outlive its revocation.
func (b *bucket) list(ctx context.Context, filter string) ([]keyEntry, error) {
	keys, err := b.keys(ctx, filter)
	if err != nil {
		return nil, err
	}
	var out []keyEntry
	for _, k := range keys {
		e, ok, err := b.get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, keyEntry{key: k, entry: e})
		}
	}
	return out, nil
}

// keys returns the keys matching filter that have a message in the stream (a value, or a
// marker that says it was deleted), as the stream's leader has them.
func (b *bucket) keys(ctx context.Context, filter string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	prefix := b.subject("")
	var out []string
	for {
		req, _ := json.Marshal(map[string]any{"subjects_filter": prefix + filter, "offset": len(out)})
		msg, err := b.js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.INFO.KV_"+b.name, req)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", b.name, err)
		}
		var resp struct {
			Error *struct {
				ErrCode     int    `json:"err_code"`
				Description string `json:"description"`
			} `json:"error"`
			Total int `json:"total"`
			State struct {
				Subjects map[string]uint64 `json:"subjects"`
			} `json:"state"`
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			return nil, fmt.Errorf("list %s: %w", b.name, err)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("list %s: %s (code %d)", b.name, resp.Error.Description, resp.Error.ErrCode)
		}
		for subj := range resp.State.Subjects {
			out = append(out, strings.TrimPrefix(subj, prefix))
		}
		if len(resp.State.Subjects) == 0 || len(out) >= resp.Total {
			return out, nil
		}
	}
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
