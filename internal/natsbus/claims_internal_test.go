package natsbus

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natstest"
)

// startOne starts a node named a with names claimed for ttl on one NATS server: its claims,
// and how many members it lost.
func startOne(t *testing.T, ttl time.Duration) (*claims, *atomic.Int64) {
	t.Helper()
	c := natstest.StartOne(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := natsnode.Connect(ctx, natsnode.Options{URLs: c.URLs()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := natsnode.Provision(ctx, js, 1, 0); err != nil {
		t.Fatal(err)
	}
	cl, err := New(ctx, Config{Conn: nc, Node: "a", NameTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	lost := new(atomic.Int64)
	return cl.NewNames(func(uint64) { lost.Add(1) }).(*claims), lost
}

// A lease write whose acknowledgement was lost leaves this node's idea of the lease's
// revision behind the bucket's: the next renewal is refused for the wrong sequence. The lease
// still names this incarnation, so it is renewed, and no member is lost.
func TestRefreshBehindAStaleRevision(t *testing.T) {
	names, lost := startOne(t, time.Hour)
	n, _ := chat.ParseName("alice")
	if err := names.Claim(n, 7); err != nil {
		t.Fatal(err)
	}
	names.mu.Lock()
	inc, rev := names.inc, names.leaseRev
	names.mu.Unlock()
	// A renewal the bucket kept but whose acknowledgement never came: written behind the
	// lease's back.
	if _, err := names.writeLease(context.Background(), inc, rev); err != nil {
		t.Fatal(err)
	}
	names.renewLease(time.Hour, time.Hour)
	if lost.Load() != 0 {
		t.Fatal("the lease was lost, its members would be disconnected")
	}
	names.mu.Lock()
	defer names.mu.Unlock()
	if names.inc != inc || names.leaseRev <= rev+1 || names.held[7] == nil {
		t.Errorf("the lease was not caught up: incarnation %q (was %q), revision %d (was %d)", names.inc, inc, names.leaseRev, rev)
	}
}

// The same for a name's key: a value written and kept without its acknowledgement does not
// lose the member; the value is written again at the key's revision.
func TestValueBehindAStaleRevision(t *testing.T) {
	names, lost := startOne(t, time.Hour)
	n, _ := chat.ParseName("alice")
	if err := names.Claim(n, 7); err != nil {
		t.Fatal(err)
	}
	names.mu.Lock()
	var k keyRev
	for _, kr := range names.held[7].keys {
		k = *kr
	}
	value := names.held[7].value
	names.mu.Unlock()
	if _, err := names.c.kv.Update(context.Background(), k.key, value, k.rev); err != nil {
		t.Fatal(err)
	}
	names.Update(chat.Presence{Member: 7, MemberFacts: chat.MemberFacts{Name: "alice", Away: "lunch"}})
	chattest.WaitFor(t, "alice's new value written", func() bool {
		names.writeValues()
		names.mu.Lock()
		defer names.mu.Unlock()
		return !names.held[7].dirty && names.held[7].keys[k.key].rev > k.rev+1
	})
	if lost.Load() != 0 {
		t.Fatal("the claim was lost, its member would be disconnected")
	}
	if p, ok := names.c.lookup([]string{k.key}); !ok || p.Away != "lunch" {
		chattest.WaitFor(t, "the new value seen", func() bool {
			p, ok := names.c.lookup([]string{k.key})
			return ok && p.Away == "lunch"
		})
	}
}
