package chat_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	passwords "hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// linesRecorder is a chat.Client that takes several lines at once (chat.LinesClient), as the
// transports do, and keeps what it is given. gate, when set, holds the first room line it is
// given until closed: the walk delivering it waits, and lines said meanwhile queue for the
// next turn.
type linesRecorder struct {
	mu      sync.Mutex
	got     []*chat.Message
	batches int // calls of DeliverLines
	gate    chan struct{}
	held    chan struct{} // closed when the gate holds a line
}

func (r *linesRecorder) Deliver(m *chat.Message) {
	if r.gate != nil && m.Kind == chat.KindChat {
		gate := r.gate
		r.gate = nil
		close(r.held)
		<-gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
}

func (r *linesRecorder) DeliverLines(ms []*chat.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ms...)
	r.batches++
}

func (r *linesRecorder) Drop(chat.DropReason, string) {}

// lines returns the chat lines given so far, each as "FROM TEXT" with its marks.
func (r *linesRecorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.got {
		if m.Kind != chat.KindChat {
			continue
		}
		s := m.From + " " + m.Text
		if m.Sent {
			s += " sent"
		}
		if m.Elsewhere {
			s += " elsewhere"
		}
		out = append(out, s)
	}
	return out
}

// TestLinesDeliveredInTurns: lines said in a busy room while another line of it is being
// delivered are queued and delivered together (several to a device in one call), and each
// device is given just what it is given of a line delivered alone: nothing of its own device's
// lines, its member's other devices' lines as sent, lines of a room that is not its current one
// as elsewhere, nothing from whom its member ignores.
func TestLinesDeliveredInTurns(t *testing.T) {
	store, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	n, _ := chat.ParseName("alice")
	hash, err := passwords.Hash("alice's long password")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAccount(context.Background(), chat.Account{Name: "alice", Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg := chat.DefaultConfig()
	cfg.Accounts = store // no history: lines history keeps are delivered before their sayer returns
	hub, _ := typedHub(t, cfg)

	enter := func(name string, rec *linesRecorder, account string) *chat.Session {
		t.Helper()
		s, err := hub.Connect(rec, chat.Peer{Addr: netip.MustParseAddr("127.0.0.2"), Account: account})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if account == "" {
			if err := s.Handle([]byte(name)); err != nil {
				t.Fatal(err)
			}
		}
		if !s.Registered() {
			t.Fatalf("%s did not enter", name)
		}
		return s
	}
	recs := map[string]*linesRecorder{}
	sessions := map[string]*chat.Session{}
	for _, d := range []struct{ device, name, account string }{
		{"alice1", "alice", "alice"}, {"alice2", "alice", "alice"}, {"alice3", "alice", "alice"},
		{"bob", "bob", ""}, {"carol", "carol", ""}, {"dave", "dave", ""}, {"erin", "erin", ""},
	} {
		recs[d.device] = &linesRecorder{}
		sessions[d.device] = enter(d.name, recs[d.device], d.account)
		if err := sessions[d.device].Join("#go"); err != nil {
			t.Fatal(err)
		}
	}
	// alice3 and erin talk in the lobby: #go is not their current room.
	for _, device := range []string{"alice3", "erin"} {
		if err := sessions[device].Join("#lobby"); err != nil {
			t.Fatal(err)
		}
	}
	if err := sessions["bob"].Ignore("carol"); err != nil {
		t.Fatal(err)
	}

	// dave holds alice's first line; carol and alice say more meanwhile, which queue.
	gate := make(chan struct{})
	recs["dave"].held = make(chan struct{})
	recs["dave"].gate = gate
	first := make(chan error, 1)
	go func() { first <- sessions["alice1"].Say("#go", "a0") }()
	<-recs["dave"].held
	var said []struct{ device, from, text string }
	for i := range 6 {
		device, from := "carol", "carol"
		if i%2 == 1 {
			device, from = "alice1", "alice"
		}
		text := fmt.Sprintf("%c%d", from[0], i+1)
		// Queued for the turn that is held: Say returns before anyone is given the line.
		if err := sessions[device].Say("#go", text); err != nil {
			t.Fatal(err)
		}
		said = append(said, struct{ device, from, text string }{device, from, text})
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	said = append([]struct{ device, from, text string }{{"alice1", "alice", "a0"}}, said...)
	for device, rec := range recs {
		var want []string
		for _, l := range said {
			switch {
			case l.device == device:
			case device == "bob" && l.from == "carol":
			case device == "alice2" && l.from == "alice":
				want = append(want, l.from+" "+l.text+" sent")
			case device == "alice3" && l.from == "alice":
				want = append(want, l.from+" "+l.text+" sent elsewhere")
			case device == "alice3" || device == "erin":
				want = append(want, l.from+" "+l.text+" elsewhere")
			default:
				want = append(want, l.from+" "+l.text)
			}
		}
		if got := rec.lines(); !slices.Equal(got, want) {
			t.Errorf("%s was given %q, want %q", device, got, want)
		}
		if rec.batches == 0 {
			t.Errorf("%s was given the queued lines one at a time", device)
		}
	}
}
