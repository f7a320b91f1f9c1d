package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// Bans in the bans bucket: n.<hex first skeleton of the name> for a name, a.<hex network> for
// an address prefix; a timed ban's key has a TTL and expires by itself on every node. The
// bucket keeps what the chat keeps in memory: a ban of a name replaces the bans of its
// look-alikes, and lifting one lifts those (two look-alikes can have different first
// skeletons, so this is not the key's doing).
//
// SaveBan and DeleteBan are called under the chat's lock and must not wait: they queue the
// change for the store's writer, which applies changes in order.

var _ chat.BanList = (*Store)(nil)

type banOp struct {
	ban  chat.Ban
	del  bool
	mute *muteOp // a change to a mute instead (mutes.go), written by the same writer
}

// banValue is what a ban's key holds.
type banValue struct {
	Name    string `json:"name,omitempty"`    // as shown
	Address string `json:"address,omitempty"` // a network, when Name is ""
	Until   int64  `json:"until,omitempty"`   // Unix nanoseconds; 0: until lifted
}

// Ban-writing retries: a write that fails is tried again (NATS reconnecting, a leader being
// elected), up to banAttempts times, then logged and given up.
const (
	banAttempts   = 5
	banFirstPause = 200 * time.Millisecond
)

// SaveBan implements chat.BanList.
func (s *Store) SaveBan(b chat.Ban) { s.enqueue(banOp{ban: b}) }

// DeleteBan implements chat.BanList.
func (s *Store) DeleteBan(b chat.Ban) { s.enqueue(banOp{ban: b, del: true}) }

func (s *Store) enqueue(op banOp) {
	s.mu.Lock()
	if s.closing || len(s.queue) >= maxBanQueue {
		s.mu.Unlock()
		s.log.Error("bans: a change is not kept (the store is closing, or too many are queued)",
			"name", op.ban.Name, "address", op.ban.Address.String(), "lift", op.del)
		return
	}
	s.queue = append(s.queue, op)
	s.mu.Unlock()
	s.poke()
}

func (s *Store) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// writeBans is the writer: it applies queued changes in order until Close.
func (s *Store) writeBans() {
	defer close(s.done)
	for {
		s.mu.Lock()
		ops, closing := s.queue, s.closing
		s.queue = nil
		s.mu.Unlock()
		for _, op := range ops {
			s.applyWithRetries(op)
		}
		if closing && len(ops) == 0 {
			return
		}
		if len(ops) == 0 {
			select {
			case <-s.wake:
			case <-s.ctx.Done():
				return
			}
		}
	}
}

func (s *Store) applyWithRetries(op banOp) {
	pause := banFirstPause
	var err error
	for attempt := 1; attempt <= banAttempts; attempt++ {
		if err = s.applyBan(s.ctx, op); err == nil {
			return
		}
		if attempt == banAttempts {
			break
		}
		select {
		case <-time.After(pause):
		case <-s.ctx.Done():
		}
		if s.ctx.Err() != nil {
			break
		}
		pause *= 2
	}
	s.log.Error("bans: a change is not kept", "name", op.ban.Name, "address", op.ban.Address.String(),
		"lift", op.del, "err", err)
}

// applyBan writes one change.
func (s *Store) applyBan(ctx context.Context, op banOp) error {
	if op.mute != nil {
		return s.applyMute(ctx, *op.mute)
	}
	b := op.ban
	if b.Name == "" {
		if !b.Address.IsValid() {
			return nil
		}
		p := b.Address.Masked()
		key := "a." + natsnode.Hex(p.String())
		if op.del {
			return s.bans.purge(ctx, key, 0)
		}
		return s.putBan(ctx, key, banValue{Address: p.String()}, b.Until)
	}
	n, err := chat.ParseName(b.Name)
	if err != nil {
		return nil // not a name this hubbub would ban
	}
	key := "n." + natsnode.Hex(n.Keys()[0])
	// The look-alikes' bans go: replaced by this one, or lifted with it.
	if err := s.dropLookAlikes(ctx, n, map[bool]string{false: key}[op.del]); err != nil {
		return err
	}
	if op.del {
		return s.bans.purge(ctx, key, 0)
	}
	return s.putBan(ctx, key, banValue{Name: n.Display}, b.Until)
}

// dropLookAlikes deletes the bans of names that look like n, but the one under except.
func (s *Store) dropLookAlikes(ctx context.Context, n chat.Name, except string) error {
	entries, err := s.bans.list(ctx, "n.*")
	if err != nil {
		return err
	}
	for _, e := range entries {
		var v banValue
		if e.key == except || json.Unmarshal(e.value, &v) != nil {
			continue
		}
		if o, err := chat.ParseName(v.Name); err == nil && o.SameAs(n) {
			if err := s.bans.purge(ctx, e.key, 0); err != nil && !errors.Is(err, errChanged) {
				return err
			}
		}
	}
	return nil
}

// putBan writes a ban; a timed one gets the TTL of what is left of it, in whole seconds
// rounded up (the server's TTLs are seconds), so that it never ends early.
func (s *Store) putBan(ctx context.Context, key string, v banValue, until time.Time) error {
	var ttl time.Duration
	if !until.IsZero() {
		left := time.Until(until)
		if left <= 0 {
			return s.bans.purge(ctx, key, 0) // over before it was written
		}
		ttl = (left + time.Second - 1).Truncate(time.Second)
		v.Until = until.UnixNano()
	}
	value, _ := json.Marshal(v)
	return s.bans.put(ctx, key, value, ttl)
}

// Bans implements chat.BanList: the bans in force.
func (s *Store) Bans(ctx context.Context) ([]chat.Ban, error) {
	entries, err := s.bans.list(ctx, ">")
	if err != nil {
		return nil, fmt.Errorf("read bans: %w", err)
	}
	now := time.Now()
	var out []chat.Ban
	for _, e := range entries {
		var v banValue
		if err := json.Unmarshal(e.value, &v); err != nil {
			continue // not one of ours
		}
		b := chat.Ban{}
		if v.Until != 0 {
			if b.Until = time.Unix(0, v.Until); !now.Before(b.Until) {
				continue // ended; its key is about to expire
			}
		}
		switch {
		case strings.HasPrefix(e.key, "n.") && v.Name != "":
			b.Name = v.Name
		case strings.HasPrefix(e.key, "a."):
			p, err := netip.ParsePrefix(v.Address)
			if err != nil {
				continue
			}
			b.Address = p
		default:
			continue
		}
		out = append(out, b)
	}
	return out, nil
}
