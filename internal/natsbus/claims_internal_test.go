package natsbus

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
)

// A refresh whose acknowledgement was lost leaves this node's idea of a key's revision behind
// the bucket's: the next refresh is refused for the wrong sequence. The key still names its
// holder, so the claim is kept, not lost (which would disconnect the member).
func TestRefreshBehindAStaleRevision(t *testing.T) {
	c := natstest.StartOne(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: c.URLs()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := natsnode.Provision(ctx, js, 1, 0); err != nil {
		t.Fatal(err)
	}
	cl, err := New(ctx, Config{Conn: nc, Node: "a", NameTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var lost atomic.Int64
	names := cl.NewNames(func(uint64) { lost.Add(1) }).(*claims)
	n, _ := chat.ParseName("alice")
	if err := names.Claim(n, 7); err != nil {
		t.Fatal(err)
	}
	// A refresh the bucket kept but whose acknowledgement never came: written behind the
	// claim's back.
	names.mu.Lock()
	var key string
	var rev uint64
	for k, kr := range names.held[7].keys {
		key, rev = k, kr.rev
	}
	value := names.held[7].value
	names.mu.Unlock()
	if _, err := names.rewrite(keyRev{key: key, rev: rev}, value); err != nil {
		t.Fatal(err)
	}
	names.refresh(false)
	if lost.Load() != 0 {
		t.Fatal("the claim was lost, its member would be disconnected")
	}
	names.mu.Lock()
	defer names.mu.Unlock()
	if names.held[7] == nil || names.held[7].keys[key].rev == rev {
		t.Errorf("the claim's revision was not caught up: %+v", names.held[7])
	}
}
