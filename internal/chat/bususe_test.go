package chat_test

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// recordingBus is the in-process bus, keeping each event published: what a test needs to see
// that everything shown to a member went through the bus.
type recordingBus struct {
	chat.Bus
	mu     sync.Mutex
	events []chat.Event
}

func (b *recordingBus) Publish(ev chat.Event) error {
	b.mu.Lock()
	b.events = append(b.events, ev)
	b.mu.Unlock()
	return b.Bus.Publish(ev)
}

// kinds counts the events published of each kind, and the orders of each kind.
func (b *recordingBus) kinds() (map[chat.Kind]int, map[chat.OrderKind]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	msgs, orders := map[chat.Kind]int{}, map[chat.OrderKind]int{}
	for _, ev := range b.events {
		if ev.Order != nil {
			orders[ev.Order.Kind]++
		} else {
			msgs[ev.Msg.Kind]++
		}
	}
	return msgs, orders
}

// Whatever one member causes another to see goes through the Bus (so that a bus across nodes
// carries all of it): room lines, joins, parts, kicks, topics, nick changes, quits, private
// messages and the notices about a member (kicked, muted, owner now); and moderation itself is
// an order on the bus, carried out by the node of whoever it concerns.
func TestEverythingSharedGoesThroughTheBus(t *testing.T) {
	var bus *recordingBus
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "the operators' password"
	cfg.NewBus = func(deliver func(chat.Event)) chat.Bus {
		bus = &recordingBus{Bus: chat.NewLocalBus(deliver)}
		return bus
	}
	hub := chat.NewHub(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	alice, _ := chattest.Enter(t, hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	for _, step := range []func() error{
		func() error { return alice.Join("#go") },
		func() error { return bob.Join("#go") },
		func() error { return alice.Say("", "hello") },
		func() error { return alice.Topic("#go", "release") },
		func() error { return alice.Private("bob", "psst") },
		func() error { return alice.Nick("alicia") },
		func() error { return alice.Oper(cfg.OperPassword) },
		func() error { return alice.Mute("bob", time.Minute) },
		func() error { return alice.Unmute("bob") },
		func() error { return alice.Kick("#go", "bob", "") },
		func() error { return bob.Join("#go") },
		func() error { return bob.Part("#go", "bye") },
		func() error { return alice.Ban("mallory", time.Minute) },
		func() error { return alice.Unban("mallory") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	alice.Close()
	got, orders := bus.kinds()
	for _, k := range []chat.OrderKind{chat.OrderKick, chat.OrderMute, chat.OrderUnmute, chat.OrderBan, chat.OrderUnban} {
		if orders[k] == 0 {
			t.Errorf("no order of kind %d went through the bus (%v)", k, orders)
		}
	}
	for _, k := range []chat.Kind{chat.KindJoin, chat.KindChat, chat.KindTopic, chat.KindPrivate,
		chat.KindNick, chat.KindNotice, chat.KindKick, chat.KindLeave, chat.KindQuit} {
		if got[k] == 0 {
			t.Errorf("no %v event went through the bus (%v)", k, got)
		}
	}
	// And what bob was shown of alice's doing came from those events.
	var fromBus int
	for _, m := range bobGot.Take() {
		switch m.Kind {
		case chat.KindChat, chat.KindPrivate, chat.KindNick, chat.KindKick, chat.KindQuit, chat.KindTopic:
			fromBus++
		}
	}
	if fromBus < 5 {
		t.Errorf("bob was shown %d of alice's events", fromBus)
	}
}
