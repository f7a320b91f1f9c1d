package natsnode

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream objects of a hubbub cluster (docs/cluster.md has what each holds). The names are
// fixed: one hubbub cluster per NATS account.
const (
	EventsStream = "HUBBUB_EVENTS" // room events and events for one member
	RoomSubjects = "hubbub.room.*" // hubbub.room.<Hex(room key)>
	NodeSubjects = "hubbub.node.*" // hubbub.node.<Hex(node name)>

	NamesBucket    = "hubbub_names"    // who holds which name, and where; per-key TTL
	RoomsBucket    = "hubbub_rooms"    // rooms' lasting state
	BansBucket     = "hubbub_bans"     // bans; per-key TTL for timed ones
	MutesBucket    = "hubbub_mutes"    // mutes; per-key TTL
	AccountsBucket = "hubbub_accounts" // accounts
	TokensBucket   = "hubbub_tokens"   // web login tokens
	NodesBucket    = "hubbub_nodes"    // nodes alive; per-key TTL
)

// DuplicateWindow is how long the events stream remembers a Nats-Msg-Id to drop a repeat.
const DuplicateWindow = 2 * time.Minute

// MarkerTTL is how long a bucket with per-key TTL keeps the marker that says a key expired:
// long enough for every watcher to see it.
const MarkerTTL = time.Minute

// Hex is the token a string stands for in a subject or a key: its bytes in lower-case hex, so
// that no user text reaches a subject or a key as written ('.', '*', '>' and spaces are not
// allowed there, and a key must not leak). Hex("") is "", which is no valid token.
func Hex(s string) string { return hex.EncodeToString([]byte(s)) }

// RoomSubject is the subject of a room's events.
func RoomSubject(roomKey string) string { return "hubbub.room." + Hex(roomKey) }

// NodeSubject is the subject of the events for the members on one node.
func NodeSubject(node string) string { return "hubbub.node." + Hex(node) }

// buckets are the KV buckets of a cluster, and whether their keys have a TTL each.
var buckets = []struct {
	name   string
	keyTTL bool
	desc   string
}{
	{NamesBucket, true, "hubbub: who holds which name, and where"},
	{RoomsBucket, false, "hubbub: rooms' display name, topic and owner"},
	{BansBucket, true, "hubbub: bans of names and addresses"},
	{MutesBucket, true, "hubbub: mutes of accounts and members"},
	{AccountsBucket, false, "hubbub: accounts"},
	{TokensBucket, true, "hubbub: web login tokens"},
	{NodesBucket, true, "hubbub: nodes alive"},
}

// EventsConfig is the configuration of the events stream.
func EventsConfig(replicas int, maxAge time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        EventsStream,
		Description: "hubbub: room events and events for one member",
		Subjects:    []string{RoomSubjects, NodeSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		Duplicates:  DuplicateWindow,
		Replicas:    replicas,
		// Each node reads each room it has members in through a consumer of its own: 60,000
		// users in rooms of 100 over four nodes is 2,400 of them, past nats-server's default of
		// 1,000 per stream (which the stream's own limit overrides; -1 would not).
		MaxConsumers: MaxEventConsumers,
	}
}

// MaxEventConsumers bounds the events stream's consumers: the rooms of every node, and its
// indexer and own subjects.
const MaxEventConsumers = 1_000_000

// BucketConfigs are the configurations of the KV buckets.
func BucketConfigs(replicas int) []jetstream.KeyValueConfig {
	out := make([]jetstream.KeyValueConfig, len(buckets))
	for i, b := range buckets {
		out[i] = jetstream.KeyValueConfig{
			Bucket:      b.name,
			Description: b.desc,
			History:     1,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}
		if b.keyTTL {
			out[i].LimitMarkerTTL = MarkerTTL
		}
	}
	return out
}

// Provision creates, or updates to this configuration, the events stream and every bucket. It
// is idempotent and safe to run from every node at once: a race to create is won by one and
// the others find the object made. replicas 0 means AutoReplicas(ctx, js, 0); maxAge 0 keeps
// events for ever. It retries what a forming cluster answers (no leader yet, not enough
// servers for the replicas) until ctx ends.
func Provision(ctx context.Context, js jetstream.JetStream, replicas int, maxAge time.Duration) error {
	if maxAge != 0 && maxAge < DuplicateWindow {
		return fmt.Errorf("nats: events max age %v is shorter than the duplicate window %v", maxAge, DuplicateWindow)
	}
	if replicas < 0 || replicas > 5 {
		return fmt.Errorf("nats: replicas must be from 1 to 5 (or 0: automatic), not %d", replicas)
	}
	if replicas == 0 {
		r, err := AutoReplicas(ctx, js, 0)
		if err != nil {
			return err
		}
		replicas = r
	}
	err := retry(ctx, "stream "+EventsStream, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, EventsConfig(replicas, maxAge))
		return err
	})
	if err != nil {
		return err
	}
	streams := []string{EventsStream}
	for _, cfg := range BucketConfigs(replicas) {
		err := retry(ctx, "bucket "+cfg.Bucket, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
			return err
		})
		if err != nil {
			return err
		}
		streams = append(streams, "KV_"+cfg.Bucket)
	}
	// A replicated stream is made before its replicas have elected a leader: a write then
	// finds nobody to answer it ("no response from stream"). Ready means every one has one.
	for _, name := range streams {
		err := retry(ctx, "the leader of "+name, func(ctx context.Context) error {
			s, err := js.Stream(ctx, name)
			if err != nil {
				return err
			}
			if c := s.CachedInfo().Cluster; c != nil && c.Leader == "" {
				return errNoLeaderYet
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// errNoLeaderYet is a stream whose replicas have not elected a leader yet.
var errNoLeaderYet = errors.New("no leader elected yet")

// AutoReplicas is the number of replicas when none is configured: the events stream's own if it
// exists (so that a node restarting while a server is down does not shrink it), else 3 when the
// cluster has at least three servers, else 1. The cluster's size is the larger of configured
// (the servers the node was told of: URLs, or routes and its own) and the servers the
// connection knows of. A server that advertises several addresses can make that look larger
// than it is; Provision then waits for servers that never come, and --nats-replicas settles it.
func AutoReplicas(ctx context.Context, js jetstream.JetStream, configured int) (int, error) {
	var info *jetstream.StreamInfo
	err := retry(ctx, "stream "+EventsStream, func(ctx context.Context) error {
		s, err := js.Stream(ctx, EventsStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		info = s.CachedInfo()
		return nil
	})
	if err != nil {
		return 0, err
	}
	if info != nil && info.Config.Replicas > 0 {
		return info.Config.Replicas, nil
	}
	if max(configured, KnownServers(js.Conn())) >= 3 {
		return 3, nil
	}
	return 1, nil
}

// KnownServers is how many distinct servers the connection knows of: those it was given and
// those the cluster told it of.
func KnownServers(nc *nats.Conn) int {
	seen := map[string]bool{}
	for _, s := range nc.Servers() {
		if u, err := url.Parse(s); err == nil {
			seen[u.Host] = true
		}
	}
	return len(seen)
}

// Attempts at a JetStream API call: each bounded, the bound growing from firstAttempt to
// maxAttempt, with a growing pause between them. The first bound is short because nats-server
// (2.15.2, seen in tests) never answers the losers of a race of identical stream creates: they
// wait for their timeout, and their next attempt, an update, succeeds at once.
const (
	firstAttempt = time.Second
	maxAttempt   = 10 * time.Second
	firstPause   = 100 * time.Millisecond
	maxPause     = 2 * time.Second
)

// retry runs op until it succeeds, fails for good, or ctx ends.
func retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	pause, bound := firstPause, firstAttempt
	for {
		actx, cancel := context.WithTimeout(ctx, bound)
		bound = min(2*bound, maxAttempt)
		err := op(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("nats: %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: %s: gave up waiting for the cluster: %w (last: %w)", what, ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, maxPause)
	}
}

// JetStream error codes a forming or recovering cluster answers with, that the same request
// may not get a moment later.
var transientCodes = map[jetstream.ErrorCode]bool{
	10004: true, // incomplete results
	10005: true, // no suitable peers for placement (servers not all up yet)
	10008: true, // JetStream system temporarily unavailable (no meta leader yet)
	10009: true, // JetStream cluster can not handle request
	10023: true, // insufficient resources (not enough servers for the replicas)
	10058: true, // stream name already in use with a different configuration: a race, updated next
}

func retryable(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrStreamNameAlreadyInUse),
		errors.Is(err, errNoLeaderYet),
		errors.Is(err, context.DeadlineExceeded), // this attempt's; the caller's ctx is checked apart
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, nats.ErrConnectionReconnecting),
		errors.Is(err, nats.ErrDisconnected):
		return true
	case errors.As(err, &apiErr):
		return transientCodes[apiErr.ErrorCode] || apiErr.Code >= 500
	}
	return false
}
