package chat_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/sqlite"
)

// TestPrivateAfterOwnLines: a private message never overtakes the lines its sender said before
// it, though those wait for the history to keep them and a guest's private message is kept
// nowhere. A user who types a line, a /msg and a line in one write (a paste) is read by a
// recipient in the room in that order, over and over.
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

	recv := chattest.Join(t, srv.Addr, "brecv")
	send := chattest.Join(t, srv.Addr, "bsend")
	recv.Expect("bsend has joined the channel")
	for i := range 20 {
		send.Write(fmt.Sprintf("line one %d\r\n/msg brecv pm two %d\r\nline three %d\r\n", i, i, i))
		want := []string{
			fmt.Sprintf("<bsend> line one %d", i),
			fmt.Sprintf("[PM from bsend] pm two %d", i),
			fmt.Sprintf("<bsend> line three %d", i),
		}
		for _, w := range want {
			if got := recv.ReadLine(); got != w {
				t.Fatalf("paste %d: brecv got %q, want %q (in the order bsend said them: %q)", i, got, w, want)
			}
		}
		// The sender sees its own private message, and once that guests' are kept nowhere.
		if got := send.ReadLine(); got != fmt.Sprintf("[PM to brecv] pm two %d", i) {
			t.Fatalf("paste %d: bsend got %q, want its private message", i, got)
		}
		if i == 0 {
			if got := send.ReadLine(); !strings.HasPrefix(got, "*** private messages with guests are kept nowhere") {
				t.Fatalf("bsend got %q, want to be told its private messages are kept nowhere", got)
			}
		}
	}
}
