package chat_test

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/ircproto"
	"hubbub/internal/lineproto"
	"hubbub/internal/sqlite"
)

// TestPrivateAfterOwnLines: a private message never overtakes the lines its sender said before
// it, though those wait for the history to keep them and a guest's private message is kept
// nowhere. A user who types a line, a /msg and a line in one write (a paste) is read by a
// recipient in the room in that order, over and over, on the line protocol and on IRC.
func TestPrivateAfterOwnLines(t *testing.T) {
	store, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := chat.DefaultConfig()
	cfg.History = store
	line := lineproto.DefaultConfig()
	line.LineRate = 0 // the paste is sent again and again
	srv := chattest.StartChat(t, line, cfg, nil)
	ircAddr := chattest.Serve(t, ircproto.NewServer(line, srv.Hub, nil, slog.New(slog.DiscardHandler)))

	recv := chattest.Join(t, srv.Addr, "brecv")
	irecv := chattest.Dial(t, ircAddr)
	irecv.Send("NICK irecv")
	irecv.Send("USER irecv 0 * :irecv")
	ircUntil(t, irecv, " 366 irecv #lobby ")
	send := chattest.Join(t, srv.Addr, "bsend")
	recv.Expect("irecv has joined the channel", "bsend has joined the channel")
	for i := range 20 {
		to := "brecv"
		if i%2 == 1 {
			to = "irecv"
		}
		send.Write(fmt.Sprintf("line one %d\r\n/msg %s pm two %d\r\nline three %d\r\n", i, to, i, i))
		want := []string{fmt.Sprintf("<bsend> line one %d", i), fmt.Sprintf("<bsend> line three %d", i)}
		if to == "brecv" {
			want = slices.Insert(want, 1, fmt.Sprintf("[PM from bsend] pm two %d", i))
		}
		for _, w := range want {
			if got := recv.ReadLine(); got != w {
				t.Fatalf("paste %d: brecv got %q, want %q (in the order bsend said them: %q)", i, got, w, want)
			}
		}
		want = []string{fmt.Sprintf("#lobby :line one %d", i), fmt.Sprintf("#lobby :line three %d", i)}
		if to == "irecv" {
			want = slices.Insert(want, 1, fmt.Sprintf("irecv :pm two %d", i))
		}
		for _, w := range want {
			if got := ircUntil(t, irecv, " PRIVMSG "); !strings.HasPrefix(got, ":bsend!") || !strings.HasSuffix(got, " PRIVMSG "+w) {
				t.Fatalf("paste %d: irecv got %q, want bsend's PRIVMSG %s (in the order bsend said them: %q)", i, got, w, want)
			}
		}
		// The sender sees its own private message, and once that guests' are kept nowhere.
		if got := send.ReadLine(); got != fmt.Sprintf("[PM to %s] pm two %d", to, i) {
			t.Fatalf("paste %d: bsend got %q, want its private message", i, got)
		}
		if i == 0 {
			if got := send.ReadLine(); !strings.HasPrefix(got, "*** private messages with guests are kept nowhere") {
				t.Fatalf("bsend got %q, want to be told its private messages are kept nowhere", got)
			}
		}
	}
}

// ircUntil reads c's lines until one contains part, and returns it.
func ircUntil(t *testing.T, c *chattest.Client, part string) string {
	t.Helper()
	for {
		if line := c.ReadLine(); strings.Contains(line, part) {
			return line
		}
	}
}

// TestPrivateAfterQueuedLines: with no history a line is shown at once, but in a busy room it
// may be queued for the publisher delivering the room's lines (the local bus's turn); a
// private message its sender sends next waits for it rather than overtaking it. A member in
// the room holds a turn (its Deliver waits) while the sender pastes a line, a /msg and a line.
func TestPrivateAfterQueuedLines(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)

	enter := func(name string, rec *linesRecorder) *chat.Session {
		t.Helper()
		s, err := srv.Hub.Connect(rec, chat.Peer{Addr: netip.MustParseAddr("127.0.0.2")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		if err := s.Handle([]byte(name)); err != nil {
			t.Fatal(err)
		}
		if !s.Registered() {
			t.Fatalf("%s did not enter", name)
		}
		return s
	}
	gate := make(chan struct{})
	holder := &linesRecorder{gate: gate, held: make(chan struct{})}
	enter("holder", holder)
	talker := enter("talker", &linesRecorder{})
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open) // before the sessions close: a turn held would keep their leaving waiting
	// The holder is the room's first member: a walk over the members comes to it first.
	recv := chattest.Join(t, srv.Addr, "brecv")
	send := chattest.Join(t, srv.Addr, "bsend")
	recv.Expect("bsend has joined the channel")

	said := make(chan error, 1)
	go func() { said <- talker.Say("", "hold on") }()
	<-holder.held
	send.Write("line one\r\n/msg brecv pm two\r\nline three\r\n")
	// While the turn is held, the private message must not come before the line queued for
	// it. Wait a while for one to overtake (a wait that can only let a broken order pass,
	// never fail a right one), then let the turn go on.
	if got, err := recv.TryReadLine(time.Second); err == nil {
		if got == "<talker> hold on" {
			t.Fatalf("brecv got %q while the turn delivering it was held", got)
		}
		t.Fatalf("brecv got %q before the line queued before it", got)
	}
	open()
	if err := <-said; err != nil {
		t.Fatal(err)
	}
	recv.Expect("<talker> hold on", "<bsend> line one", "[PM from bsend] pm two", "<bsend> line three")
}
