package conversation_test

import (
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// TestNamesNobodyCanSpoof registers look-alikes of names that are online, reserved names and
// mixed-script names: each is refused and the prompt comes again.
func TestNamesNobodyCanSpoof(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
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

// TestLookAlikeAndReservedNamesOverTheWire registers alice over TCP, then tries the
// look-alikes and reserved names of issue 12 as a new user's name: each is refused with its
// reason and the prompt again; names in other scripts and with accents are still welcome, and
// a user who is online cannot take a reserved name with /nick either.
func TestLookAlikeAndReservedNamesOverTheWire(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	const taken, reserved = "name taken, please choose other", "*** that name is reserved, please choose other"
	for _, tt := range []struct{ name, want string }{
		{"\u1d00lice", taken},              // small capital ᴀ
		{"alic\u025b", taken},              // open e ɛ
		{"s\u025brver", reserved},          // open e ɛ
		{"adm\u1d09n", reserved},           // turned i ᴉ
		{"\ua785ystem", reserved},          // insular s ꞅ
		{"alic\u0117", taken},              // ė
		{"al\u00ecce", taken},              // ì
		{"ali\u0307ce", taken},             // i with a combining dot above
		{"\u2c65lice", taken},              // ⱥ
		{"ALİCE", taken},                   // capital I with a dot
		{"a\u0301\u0302\u0303lice", taken}, // three accents on a
		{"a" + strings.Repeat("\u0301", 30) + "lice", "*** names may carry at most 3 accents or marks on a letter, please choose other"},
		{"al\u200bice", "*** names cannot contain invisible characters, please choose other"},
		{"Server.", reserved},
		{"server_", reserved},
		{"5erver", reserved},
		{"serv3r", reserved},
		{"servers", reserved},
		{"adm1n", reserved},
		{"admins", reserved},
		{"ChanServ", reserved},
		{"\u1d00dmin", reserved},
		{"0perator", reserved},
		{"r00t", reserved},
		{"System_", reserved},
		{"HUBBUB", reserved},
	} {
		c.Send(tt.name)
		c.Expect(tt.want, "What's your name?")
	}
	// Each of these registers, and leaves again, so that the next one is free to try.
	for _, name := range []string{"Ελένη", "Дмитрий", "李雷", "José", "Zoë", "Nguyễn", "observer"} {
		u := chattest.Join(t, srv.Addr, name)
		alice.Expect(name + " has joined the channel")
		u.Send("/quit")
		u.ExpectClosed()
		alice.Expect(name + " has left the channel.")
	}
	// José is online: Jose is the same name.
	jose := chattest.Join(t, srv.Addr, "José")
	alice.Expect("José has joined the channel")
	c.Send("Jose")
	c.Expect(taken, "What's your name?")
	jose.Send("/nick admin2")
	jose.Expect("*** that name is reserved")
	jose.Send("/nick 5erver")
	jose.Expect("*** that name is reserved")
	jose.Send("/nick \u1d00lice")
	jose.Expect("*** \u1d00lice is taken")
}
