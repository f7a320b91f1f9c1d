package conversation_test

import (
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

const quiet = 50 * time.Millisecond

func TestRooms(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice, bob, carol := joinThree(t, srv.Addr)

	alice.Send("/join go")
	alice.Expect("*** you made #go and own it: plain lines now go there")
	bob.Send("/JOIN #GO")
	bob.Expect("*** you joined #go (2 here): plain lines now go there")
	alice.Expect("bob has joined #go")

	// A line goes to its room only; members talking elsewhere see where it came from.
	alice.Send("hi go")
	bob.Expect("<alice> hi go")
	carol.Send("hi lobby")
	alice.Expect("[#lobby] <carol> hi lobby")
	bob.Expect("[#lobby] <carol> hi lobby")
	alice.Send("/join lobby")
	alice.Expect("*** now talking in #lobby")
	bob.Send("in go")
	alice.Expect("[#go] <bob> in go")
	carol.ExpectSilence(quiet) // carol is not in #go and heard nothing of it

	alice.Send("/rooms")
	alice.Expect("*** 2 rooms:", "***   #lobby (3)", "***   #go (2)")
	carol.Send("/who go")
	carol.Expect("*** #go (2): alice (owner), bob")
	carol.Send("/who")
	carol.Expect("*** #lobby (3): alice, bob, carol")
	carol.Send("/who nowhere")
	carol.Expect("*** there is no room #nowhere")

	// The topic: shown on join, set by the owner only.
	alice.Send("/join go")
	alice.Expect("*** now talking in #go")
	alice.Send("/topic Go and  \x1b[31mnothing else")
	alice.Expect("alice set the topic of #go: Go and  nothing else")
	bob.Expect("alice set the topic of #go: Go and  nothing else")
	bob.Send("/topic mine")
	bob.Expect("*** only the owner of #go and operators set its topic")
	bob.Send("/topic")
	bob.Expect("*** topic for #go: Go and  nothing else")
	carol.Send("/join go")
	carol.Expect("*** topic for #go: Go and  nothing else", "*** you joined #go (3 here): plain lines now go there")
	alice.Expect("carol has joined #go")
	bob.Expect("carol has joined #go")
	carol.Send("/rooms")
	carol.Expect("*** 2 rooms:", "***   #go (3): Go and  nothing else", "***   #lobby (3)")
	alice.Send("/topic -")
	alice.Expect("alice cleared the topic of #go")
	bob.Expect("alice cleared the topic of #go")
	carol.Expect("alice cleared the topic of #go")
	alice.Send("/topic Go and  nothing else")
	alice.Expect("alice set the topic of #go: Go and  nothing else")
	bob.Expect("alice set the topic of #go: Go and  nothing else")
	carol.Expect("alice set the topic of #go: Go and  nothing else")

	// Leaving: the current room moves to the room joined last; the owner's room passes on.
	carol.Send("/part")
	carol.Expect("*** you left #go", "*** now talking in #lobby")
	alice.Expect("carol has left #go.")
	bob.Expect("carol has left #go.")
	alice.Send("/part #go")
	alice.Expect("*** you left #go", "*** now talking in #lobby")
	bob.Expect("alice has left #go.", "*** you now own #go")
	bob.Send("/who go")
	bob.Expect("*** #go (1): bob (owner)")

	// Nobody is ever in no room: the lobby cannot be left last, and leaving the last other
	// room goes back to the lobby.
	carol.Send("/part lobby")
	carol.Expect("*** #lobby is your only room: /join another first, or /quit")
	bob.Send("/part lobby")
	bob.Expect("*** you left #lobby")
	alice.Expect("bob has left the channel.")
	carol.Expect("bob has left the channel.")
	bob.Send("/part")
	bob.Expect("*** you left #go", "*** now talking in #lobby")
	alice.Expect("bob has joined the channel")
	carol.Expect("bob has joined the channel")
	bob.Send("/rooms")
	bob.Expect("*** 1 rooms:", "***   #lobby (3)") // #go went away with its last member
	alice.ExpectSilence(quiet)
}

func TestRoomRules(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.MaxRoomsPerUser = 2
	srv, _ := chattest.StartOnClock(t, cfg)
	dave := chattest.Join(t, srv.Addr, "dave")
	for _, tt := range []struct{ send, want string }{
		{"/join", "*** usage: /join ROOM"},
		{"/join a b", "*** usage: /join ROOM"},
		{"/join snow☃", "*** room names may use letters, digits and punctuation only"},
		{"/join ###", "*** room names must start with a letter, a digit or _"},
		{"/join aаa", "*** room names cannot mix Latin and Cyrillic letters"},
		{"/join one", "*** you made #one and own it: plain lines now go there"},
		{"/join two", "*** you are in 2 rooms, the most allowed: /part one first"},
		{"/part two", "*** there is no room #two"},
		{"/topic", "*** #one has no topic"},
		{"/join lobby", "*** now talking in #lobby"},
		{"/topic lobby things", "*** only operators set the topic of #lobby"},
	} {
		dave.Send(tt.send)
		dave.Expect(tt.want)
	}
}

// TestQuitLeavesEveryRoomOnce has a user in several rooms quit: each member who shared a room
// with it hears of it once.
func TestQuitLeavesEveryRoomOnce(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	alice.Send("/join a")
	alice.Send("/join b")
	alice.Expect("*** you made #a and own it: plain lines now go there",
		"*** you made #b and own it: plain lines now go there")
	bob.Send("/join a")
	bob.Send("/join b")
	alice.Expect("bob has joined #a", "bob has joined #b")
	bob.Expect("*** you joined #a (2 here): plain lines now go there",
		"*** you joined #b (2 here): plain lines now go there")
	bob.Send("/quit bye")
	bob.Expect("*** goodbye")
	bob.ExpectClosed()
	alice.Expect("bob has left the channel. (quit: bye)")
	alice.ExpectSilence(quiet)
}
