package main

import (
	"testing"
)

// TestTelnetPasswordHidden registers and logs in with a real telnet under a pty: the server
// turns telnet's echo off while the password is typed, so it never shows, and back on after.
func TestTelnetPasswordHidden(t *testing.T) {
	const pw = "secret horse battery"
	term, alice := telnetUser(t)
	term.typeLine("/register")
	term.expect("*** choose a password for dave (")
	term.typeLine(pw)
	term.expect("*** the same password again")
	term.typeLine(pw)
	term.expect("*** dave is registered to you: next time, choosing dave asks for this password")
	term.typeLine("echo is back")
	term.expect("echo is back") // telnet shows what is typed again
	alice.Expect("<dave> echo is back")
	if term.shows(pw) {
		t.Fatalf("telnet showed the password")
	}
}
