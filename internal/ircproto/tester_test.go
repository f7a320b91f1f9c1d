package ircproto_test

import (
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// MAXTARGETS=1 is what 005 says and what the door holds a client to: a line naming several
// targets, repeated or not, is answered by one 407 and sends nothing, so one line is never
// many messages (or many numerics). NOTICE is held to it too.
func TestMaxTargets(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	tests := []struct{ send, target string }{
		{"PRIVMSG " + strings.Repeat("bob,", 49) + "bob :many", strings.Repeat("bob,", 49) + "bob"},
		{"PRIVMSG bob,bob :twice", "bob,bob"},
		{"PRIVMSG #c0,#c1,#c2 :x", "#c0,#c1,#c2"},
		{"PRIVMSG bob,#lobby :both", "bob,#lobby"},
		{"NOTICE bob,bob :twice", "bob,bob"},
		{"PRIVMSG bob,bob :\x01VERSION\x01", "bob,bob"},
	}
	for _, tt := range tests {
		alice.Send(tt.send)
		got := alice.sync()
		if len(got) != 1 || !strings.HasPrefix(got[0], ":hubbub 407 alice "+tt.target+" :too many targets") {
			t.Errorf("%.40q: got %q, want one 407", tt.send, got)
		}
	}
	// bob got none of it: the next line he hears from alice is the one to him alone.
	alice.Send("PRIVMSG bob :one")
	if line := waitLine(t, bob, "[PM from alice]"); !strings.Contains(line, "[PM from alice] one") {
		t.Errorf("bob got %q first, want alice's single line", line)
	}
	alice.Send("PRIVMSG #lobby :to the room")
	if line := waitLine(t, bob, "<alice>"); !strings.Contains(line, "<alice> to the room") {
		t.Errorf("bob got %q, want alice's line to the lobby", line)
	}
}
