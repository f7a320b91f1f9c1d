package chat_test

import (
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// TestNamesNobodyCanSpoof registers look-alikes of names that are online, reserved names and
// mixed-script names: each is refused and the prompt comes again.
func TestNamesNobodyCanSpoof(t *testing.T) {
	srv, _ := start(t, chat.DefaultConfig())
	for _, name := range []string{"alice", "ace", "mike", "bob", "ABE"} {
		chattest.Join(t, srv.Addr, name)
	}
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	for _, tt := range []struct{ name, want string }{
		{"ALICE", "name taken, please choose other"},
		{"\u0430\u0441\u0435", "name taken, please choose other"}, // Cyrillic асе
		{"rnike", "name taken, please choose other"},
		{"b0b", "name taken, please choose other"},
		{"\u0391\u0392\u0395", "name taken, please choose other"}, // Greek ΑΒΕ
		{"\u0430lice", "*** names cannot mix Cyrillic and Latin letters, please choose other"},
		{"admin", "*** that name is reserved, please choose other"},
		{"Server", "*** that name is reserved, please choose other"},
		{"msg", "*** that name is reserved, please choose other"},    // a command
		{"adrnin", "*** that name is reserved, please choose other"}, // rn looks like m
	} {
		c.Send(tt.name)
		c.Expect(tt.want, "What's your name?")
	}
	c.Send("alicia")
	c.Expect("Welcome, alicia!")
}
