package main

import (
	"fmt"
	"testing"

	"hubbub/internal/chattest"
)

// telnetUser starts the server and a real telnet under a pty registered as dave, with alice on
// the other side.
func telnetUser(t *testing.T, args ...string) (*terminal, *chattest.Client) {
	t.Helper()
	telnet := lookPath(t, "telnet", "telnet")
	p := startProc(t, "", args...)
	alice := chattest.Join(t, p.addrs["chat"], "alice")
	host, port := splitAddr(t, p.addrs["chat"])
	term := startPTY(t, telnet, host, port)
	term.expect("What's your name?")
	term.typeLine("dave")
	term.expect("Welcome, dave!")
	alice.Expect("dave has joined the channel")
	return term, alice
}

// TestTelnetInterrupts presses Ctrl-C, Ctrl-\ and Ctrl-Z in the middle of a line in a real
// telnet. telnet sends IP, BRK or SUSP and then DO TIMING-MARK, and shows nothing more until the
// server answers it: the session must go on, the half-typed line gone, the room still visible.
func TestTelnetInterrupts(t *testing.T) {
	term, alice := telnetUser(t)
	for _, key := range []struct{ name, keys string }{{"Ctrl-C", "\x03"}, {`Ctrl-\`, "\x1c"}, {"Ctrl-Z", "\x1a"}} {
		term.press("half a li")
		term.press(key.keys)
		term.typeLine("after " + key.name)
		alice.Expect("<dave> after " + key.name)
		alice.Send("still there after " + key.name + "?")
		term.expect("<alice> still there after " + key.name + "?")
	}
	// Are You There, from telnet's own prompt, is answered.
	term.press("\x1d") // telnet's escape character
	term.expect("telnet> ")
	term.typeLine("send ayt")
	term.expect("*** yes, the server is here")
	term.typeLine("the end")
	alice.Expect("<dave> the end")
	alice.Send("bye dave")
	term.expect("<alice> bye dave")
}

// TestTelnetPaste pastes 300 lines into a real telnet with the default limits: the line rate
// makes them arrive slowly, but all of them arrive, in order, and nobody is muted.
func TestTelnetPaste(t *testing.T) {
	if testing.Short() {
		t.Skip("takes half a minute: 300 lines at the default 10 lines a second")
	}
	term, alice := telnetUser(t)
	const lines = 300
	var paste []byte
	for i := range lines {
		paste = fmt.Appendf(paste, "pasted line %d\r", i)
	}
	pasted := make(chan error, 1)
	go func() {
		_, err := term.master.Write(paste)
		pasted <- err
	}()
	for i := range lines {
		alice.Expect(fmt.Sprintf("<dave> pasted line %d", i))
	}
	if err := <-pasted; err != nil {
		t.Fatalf("paste: %v", err)
	}
	alice.Send("all here")
	term.expect("<alice> all here")
	if term.shows("muted") || term.shows("too fast") {
		t.Fatal("a paste got its sender muted")
	}
}
