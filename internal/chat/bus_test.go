package chat

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The local bus gives each room's events one order: Seq counts up by one per room, and an
// event is delivered only after the one before it in its room, however many publish at once.
func TestLocalBusOrdersEachRoom(t *testing.T) {
	const publishers, each = 8, 500
	var mu sync.Mutex
	last := map[string]uint64{}
	var bad []string
	b := newLocalBus(func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Seq != last[ev.Room]+1 {
			bad = append(bad, ev.Room)
		}
		last[ev.Room] = ev.Seq
	})
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			room := []string{"#a", "#b"}[p%2]
			for range each {
				if err := b.Publish(Event{Room: room, Msg: &Message{Kind: KindChat}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Errorf("%d events out of order", len(bad))
	}
	for _, room := range []string{"#a", "#b"} {
		if want := uint64(publishers / 2 * each); last[room] != want {
			t.Errorf("%s: last Seq %d, want %d", room, last[room], want)
		}
	}
	// A room forgotten starts a new order.
	b.Unsubscribe("#a")
	b.Publish(Event{Room: "#a", Msg: &Message{Kind: KindChat}})
	if last["#a"] != 1 {
		t.Errorf("after Unsubscribe, Seq %d, want 1", last["#a"])
	}
}

// TestLocalBusTurnsAreBounded: in a room that talks without let-up, the publisher whose turn
// it is delivers others' lines only for a while (maxTurnLines and what was queued then), and
// then goes back to its own connection, rather than for as long as the room talks.
func TestLocalBusTurnsAreBounded(t *testing.T) {
	const feeders, lines = 4, 20000
	var fed, inFirstTurn atomic.Int64
	firstTurn := atomic.Bool{}
	started := make(chan struct{})
	var once sync.Once
	b := newLocalBus(func(ev Event) {
		once.Do(func() {
			// The first publisher's own line: the others talk meanwhile, and queue theirs.
			close(started)
			for deadline := time.Now().Add(10 * time.Second); fed.Load() < 100 && time.Now().Before(deadline); {
				runtime.Gosched()
			}
		})
		// A delivery slower than a publish: the queue is full again whenever a batch is
		// delivered.
		for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
		}
		if firstTurn.Load() {
			inFirstTurn.Add(1)
		}
	})
	var wg sync.WaitGroup
	for range feeders {
		wg.Go(func() {
			<-started
			for fed.Add(1) <= lines {
				b.Publish(Event{Room: "#busy", Msg: &Message{Kind: KindChat}})
			}
		})
	}
	firstTurn.Store(true)
	b.Publish(Event{Room: "#busy", Msg: &Message{Kind: KindChat}})
	firstTurn.Store(false)
	wg.Wait()
	if n := inFirstTurn.Load(); n > maxTurnLines+2*maxQueuedLines {
		t.Errorf("the first publisher delivered %d lines before it returned (of %d said)", n, lines)
	}
}
