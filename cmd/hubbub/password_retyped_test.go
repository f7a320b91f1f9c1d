package main

import (
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// TestPasswordRetypedAfterBlankAnswer: a password typed at the password question and then
// typed again at the name question is refused as a name (it would be announced to the room,
// logged and kept), also when a blank answer to a password question came between: nc users
// press Enter at the question to get back to the name one. (Found by FuzzPasswordPrompt.)
func TestPasswordRetypedAfterBlankAnswer(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "", "--data-dir", dir)
	addr := p.addrs["chat"]
	mustAccount(t, "alice's real password\n", "create", "alice", "--data-dir", dir)
	bob := chattest.Join(t, addr, "bob")

	const typo = "hunter2secret" // the user's other password; as a name it would be valid
	c := chattest.DialFrom(t, "127.0.0.2", addr)
	c.Expect("What's your name?")
	c.Send("alice")
	c.Expect(willEcho + "*** password for alice:")
	c.Send(typo)
	c.Expect(wontEcho+"*** wrong password", "What's your name?")
	c.Send("alice")
	c.Expect("*** password for alice (it will show as you type):")
	c.Send("   ")
	c.Expect("*** no password given: type it, or an empty line again to give up (it will show as you type)")
	c.Send("")
	c.Expect("*** no password given: choose a name again", "What's your name?")
	c.Send(typo)
	c.Expect("*** that holds the password you typed before, so it is not a name: it was shown to no one. Choose a name",
		"What's your name?")

	bob.Send("/who")
	bob.Expect("*** #lobby (1): bob") // no join of anyone before it
	c.Send("/quit")
	c.ExpectClosed()
	bob.Send("/quit")
	bob.ExpectClosed()
	stop(t, p)
	if strings.Contains(p.logs.String(), typo) {
		t.Errorf("the log has the password:\n%s", p.logs)
	}
}
