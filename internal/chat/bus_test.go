package chat

import (
	"sync"
	"testing"
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
