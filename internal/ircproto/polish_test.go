package ircproto_test

import (
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// A user whose connection ends without a reason of their own is told to IRC clients with the
// reason the IRC door gives its own clients that just go: never an empty QUIT (irssi: "has
// quit []"). A reason the user gave is kept.
func TestQuitReasonNeverEmpty(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	tests := []struct {
		name, quit, want string
	}{
		{"telnet closes", "", ":bob!u@hubbub QUIT :connection closed"},
		// The chat tells a bare /quit as it tells a closed connection (the line door shows both as
		// "bob has left the channel."), and so does this door.
		{"telnet quits", "/quit", ":bob!u@hubbub QUIT :connection closed"},
		{"telnet quits with a reason", "/quit lunch", ":bob!u@hubbub QUIT :quit: lunch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bob := chattest.Join(t, srv.Addr, "bob")
			alice.until(":bob!u@hubbub JOIN #lobby")
			if tt.quit == "" {
				bob.Conn.Close()
			} else {
				bob.Send(tt.quit)
			}
			if got := alice.until(" QUIT "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("IRC client closes", func(t *testing.T) {
		carol := registerIRC(t, srv.IRC, "carol")
		alice.until(":carol!u@hubbub JOIN #lobby")
		carol.Conn.Close()
		if got := alice.until(" QUIT "); got != ":carol!u@hubbub QUIT :connection closed" {
			t.Errorf("got %q", got)
		}
	})
}
