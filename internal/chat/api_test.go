package chat_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// The typed API, tested on Message values: no transport, no text to parse.
func TestTypedAPI(t *testing.T) {
	hub := chat.NewHub(chat.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	alice, aliceGot := chattest.Enter(t, hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	if err := alice.Handle([]byte("/join go")); err != nil {
		t.Fatal(err)
	}
	if err := bob.Handle([]byte("/join go")); err != nil {
		t.Fatal(err)
	}
	// Both are now talking in #go; a line to #lobby by name goes there, not to #go.
	aliceGot.Take()
	bobGot.Take()
	if err := alice.Say("#lobby", "to the lobby"); err != nil {
		t.Fatal(err)
	}
	got := bobGot.Take()
	if len(got) != 1 || got[0].Kind != chat.KindChat || got[0].Room != "#lobby" || !got[0].Elsewhere || got[0].Text != "to the lobby" {
		t.Fatalf("bob got %+v, want one line of alice's in #lobby, marked elsewhere", got)
	}
	if err := alice.Action("", "waves"); err != nil {
		t.Fatal(err)
	}
	if got := bobGot.Take(); len(got) != 1 || got[0].Kind != chat.KindAction || got[0].Room != "#go" || got[0].Elsewhere {
		t.Fatalf("bob got %+v, want alice's action in #go", got)
	}

	// Failures are typed: a program can tell them apart without reading English.
	for _, c := range []struct {
		what string
		err  error
		code chat.ErrorCode
	}{
		{"say to a room nobody made", alice.Say("#nowhere", "hi"), chat.CodeNoSuchRoom},
		{"private message to no one", alice.Private("zed", "hi"), chat.CodeNoSuchName},
		{"private message to self", alice.Private("ALICE", "hi"), chat.CodeNotOnSelf},
		{"empty line", alice.Say("", "   "), chat.CodeNeedArgs},
		{"nick held", alice.Nick("B0B"), chat.CodeNameInUse},
		{"nick invalid", alice.Nick("*star"), chat.CodeBadName},
		{"kick without rights", bob.Kick("#go", "alice", ""), chat.CodeNotAllowed},
		{"kick self", alice.Kick("#go", "alice", ""), chat.CodeNotOnSelf},
		{"part a room not in", bob.Part("#nowhere", ""), chat.CodeNoSuchRoom},
		{"join a room with no name", bob.Join("#"), chat.CodeBadName},
	} {
		var e *chat.Error
		if !errors.As(c.err, &e) || e.Code != c.code || e.Text == "" {
			t.Errorf("%s: %v, want an Error with code %d", c.what, c.err, c.code)
		}
	}
	for i := 0; ; i++ { // MaxRoomsPerUser is 10 by default
		err := bob.Join(fmt.Sprintf("#r%d", i))
		if err == nil {
			continue
		}
		if e, ok := err.(*chat.Error); !ok || e.Code != chat.CodeTooManyRooms || i != 8 {
			t.Fatalf("joining a room too many (the %dth): %v, want CodeTooManyRooms at the 11th", i+3, err)
		}
		break
	}
	if err := bob.Part("#lobby", "busy"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Say("#lobby", "still here?"); err != nil {
		t.Fatal(err)
	}
	if err := bob.Say("#lobby", "gone"); err == nil || err.(*chat.Error).Code != chat.CodeNotInRoom {
		t.Errorf("saying in a room left: %v, want CodeNotInRoom", err)
	}

	// A kick is an event of its own, naming who did it and why.
	aliceGot.Take()
	if err := alice.Kick("#go", "bob", "too loud"); err != nil {
		t.Fatal(err)
	}
	var kick *chat.Message
	for _, m := range aliceGot.Take() {
		if m.Kind == chat.KindKick {
			kick = m
		}
	}
	if kick == nil || kick.From != "bob" || kick.To != "alice" || kick.Text != "too loud" || kick.Room != "#go" {
		t.Errorf("the kick alice saw: %+v", kick)
	}
	// A quit is one event to each who shared a room, not a leave per room.
	carol, carolGot := chattest.Enter(t, hub, "127.0.0.4", "carol")
	carol.Handle([]byte("/join go"))
	carolGot.Take()
	alice.Close()
	var quits int
	for _, m := range carolGot.Take() {
		if m.Kind == chat.KindQuit && m.From == "alice" {
			quits++
		}
	}
	if quits != 1 {
		t.Errorf("carol, in two rooms with alice, was told of her quit %d times, want once", quits)
	}
}
