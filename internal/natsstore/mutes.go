package natsstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// Mutes of accounts in the mutes bucket, one key per account (the hex of its name, as the chat
// keys them), with a TTL of what is left of the mute: a mute ends by itself on every node, and a
// node started later reads those in force (chat.MuteList). SaveMute and DeleteMute queue the
// change for the writer of bans, which applies changes in the order they were made.

var _ chat.MuteList = (*Store)(nil)

type muteOp struct {
	account string
	until   time.Time
	del     bool
}

// muteValue is what a mute's key holds.
type muteValue struct {
	Account string `json:"account"`
	Until   int64  `json:"until"` // Unix nanoseconds
}

// SaveMute implements chat.MuteList.
func (s *Store) SaveMute(account string, until time.Time) {
	s.enqueue(banOp{mute: &muteOp{account: account, until: until}})
}

// DeleteMute implements chat.MuteList.
func (s *Store) DeleteMute(account string) {
	s.enqueue(banOp{mute: &muteOp{account: account, del: true}})
}

func muteKey(account string) string { return natsnode.Hex(account) }

func (s *Store) applyMute(ctx context.Context, op muteOp) error {
	if op.account == "" {
		return nil
	}
	key := muteKey(op.account)
	left := time.Until(op.until)
	if op.del || left <= 0 {
		return s.mutes.purge(ctx, key, 0)
	}
	value, _ := json.Marshal(muteValue{Account: op.account, Until: op.until.UnixNano()})
	// Whole seconds, rounded up (the server's TTLs are seconds): never ended early.
	return s.mutes.put(ctx, key, value, (left + time.Second - 1).Truncate(time.Second))
}

// Mutes implements chat.MuteList: the mutes in force, by account.
func (s *Store) Mutes(ctx context.Context) (map[string]time.Time, error) {
	entries, err := s.mutes.list(ctx, ">")
	if err != nil {
		return nil, fmt.Errorf("read mutes: %w", err)
	}
	now := time.Now()
	out := make(map[string]time.Time)
	for _, e := range entries {
		var v muteValue
		if json.Unmarshal(e.value, &v) != nil || v.Account == "" || e.key != muteKey(v.Account) {
			continue // not one of ours
		}
		if until := time.Unix(0, v.Until); now.Before(until) {
			out[v.Account] = until
		}
	}
	return out, nil
}
