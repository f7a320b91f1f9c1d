package chat

import (
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"
)

// recorder is a Client that keeps what it is sent.
type recorder struct {
	mu      sync.Mutex
	got     []*Message
	dropped bool
}

func (r *recorder) Deliver(m *Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
}

func (r *recorder) Drop(DropReason, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = true
}

// unsafe reports text that could act on a terminal rather than be shown.
func unsafe(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	})
}

// FuzzCommands has an operator and a user type whatever the fuzzer makes, as lines and
// commands: nothing panics, nothing unsafe reaches anyone, and once both leave the chat is as
// empty as it began.
func FuzzCommands(f *testing.F) {
	for _, seed := range [][2]string{
		{"/join go", "/join #go"}, {"/msg bob hi", "/reply x"}, {"/nick al\x1bice", "/nick alice"},
		{"/kick bob spam", "/part"}, {"/ban 127.0.0.0/8 1h", "/ban bob"}, {"/mute bob 1s", "hello"},
		{"/topic \x1b]0;pwned\x07", "/topic"}, {"/whois bob", "/who go"}, {"//me", "/ME waves"},
		{"/ignore bob", "/unignore alice"}, {"/join a", "/join b"}, {"/away \u202egone", "/rooms"},
		{"/help ban", "/quit bye"}, {"/unban 127.0.0.1", "/oper pw"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		h := NewHub(Config{OperPassword: "pw", MaxRoomsPerUser: 3, FloodMute: 1}, slog.New(slog.DiscardHandler))
		var clients []*recorder
		var sessions []*Session
		for i, name := range []string{"alice", "bob"} {
			c := &recorder{}
			s, err := h.Connect(c, netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}))
			if err != nil {
				t.Fatal(err)
			}
			s.Handle([]byte(name))
			clients, sessions = append(clients, c), append(sessions, s)
		}
		alice, bob := sessions[0], sessions[1]
		alice.Handle([]byte("/oper pw"))
		for _, step := range []struct {
			s    *Session
			line string
		}{{alice, a}, {bob, b}, {alice, b}, {bob, a}, {bob, "after"}} {
			if err := step.s.Handle([]byte(step.line)); err == ErrQuit {
				step.s.Close()
			}
		}
		bob.Flooding()
		for _, s := range sessions {
			s.Close()
		}
		for _, c := range clients {
			for _, m := range c.got {
				for _, field := range []string{m.Room, m.From, m.To, m.Text} {
					if unsafe(field) {
						t.Fatalf("a message carries unsafe text %q: %+v", field, m)
					}
				}
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if len(h.names.m) != 0 || len(h.rooms.values()) != 1 || len(h.lobby.list()) != 0 {
			t.Fatalf("after everyone left: names %v, rooms %d, lobby %d", h.names.m, len(h.rooms.values()), len(h.lobby.list()))
		}
	})
}
