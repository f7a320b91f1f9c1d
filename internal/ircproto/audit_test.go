package ircproto_test

import (
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// A long line without spaces from a telnet user reaches an IRC client as lines of at most 512
// bytes, CR LF included, that together hold every byte of it (it reached IRC clients as 511
// bytes and CR LF: the line's head was counted a byte short).
func TestLongLineFitsIRC(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.until(":bob!u@hubbub JOIN #lobby")
	text := strings.Repeat("y", 4000)
	bob.Send(text)
	bob.Send("end")
	var got strings.Builder
	for _, line := range alice.readUntil(":bob!u@hubbub PRIVMSG #lobby :end") {
		if len(line)+2 > 512 {
			t.Errorf("a line of %d bytes with its CR LF: %.60q...", len(line)+2, line)
		}
		if rest, ok := strings.CutPrefix(line, ":bob!u@hubbub PRIVMSG #lobby :"); ok && rest != "end" {
			got.WriteString(rest)
		}
	}
	if got.String() != text {
		t.Errorf("got %d bytes of bob's line, want its 4000", got.Len())
	}
}
