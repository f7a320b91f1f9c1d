package chat_test

import (
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// TestLineAfterWelcomeArrives: a line said after a new member saw its welcome reaches that
// member, however the registration and the line interleave. Without history, lines go to a
// room's members with no lock held, so a member must be in the lobby before its welcome can
// be seen.
func TestLineAfterWelcomeArrives(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	watcher := chattest.Join(t, srv.Addr, "watcher")
	sender := chattest.Join(t, srv.Addr, "sender")
	watcher.Expect("sender has joined the channel")

	welcomed := make(chan struct{})
	said := make(chan struct{})
	chat.SetTestHookWelcomed(srv.Hub, func(name string) {
		if name != "late" {
			return
		}
		close(welcomed)
		// Hold the registration here until the line has been said to the room.
		select {
		case <-said:
		case <-time.After(chattest.Timeout):
		}
	})
	late := chattest.Dial(t, srv.Addr)
	late.Expect("What's your name?")
	late.Send("late")
	<-welcomed
	late.Expect("Welcome, late!")
	sender.Send("after your welcome")
	watcher.Expect("<sender> after your welcome")
	close(said)
	watcher.Expect("late has joined the channel")
	late.Expect("<sender> after your welcome")
}
