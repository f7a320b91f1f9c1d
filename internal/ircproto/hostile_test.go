package ircproto_test

import (
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// What a telnet user controls (a name with '!' '@' ':', a topic, a line with NUL, ESC, CTCP
// bytes, a colon and a would-be command) reaches an IRC client as one harmless line each: the
// name cannot pass for another's prefix, nothing ends the line early, nothing is a command.
func TestInjectionFromTelnet(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	mal := chattest.Dial(t, srv.Addr)
	mal.Expect("What's your name?")
	mal.Send("bob!x@evil,y")
	waitLine(t, mal, "Welcome, bob!x@evil,y!")
	alice.until(":bob¡x＠evil‚y!u@hubbub JOIN #lobby")

	mal.Send("/join #evil")
	waitLine(t, mal, "you made #evil")
	mal.Send("/topic \x1b]0;title\x07 :hubbub KILL alice")
	waitLine(t, mal, "set the topic")
	alice.Send("JOIN #evil")
	var all []string
	for line := ""; !strings.Contains(line, " 366 alice #evil "); {
		line = alice.ReadLine()
		all = append(all, line)
	}
	mal.Write("hi\x00 \x1b[2J\x01DCC SEND\x01 :hubbub 001 alice :pwned\r\n")
	mal.Write("two\rQUIT :x\r\n")
	mal.Send("/me \x01VERSION\x01 waves")
	for line := ""; !strings.Contains(line, "ACTION"); {
		line = alice.ReadLine()
		all = append(all, line)
	}

	said := 0
	for _, line := range all {
		if strings.ContainsAny(line, "\x00\x1b\x07\r\n") || strings.Count(line, "\x01") > 2 {
			t.Errorf("a control reached the IRC client: %q", line)
		}
		if strings.Contains(line, "PRIVMSG") {
			said++
			if !strings.HasPrefix(line, ":bob¡x＠evil‚y!u@hubbub PRIVMSG #evil :") {
				t.Errorf("a line not from bob¡x＠evil‚y: %q", line)
			}
		}
		if strings.Contains(line, " 332 ") && !strings.HasPrefix(line, ":hubbub 332 alice #evil :") {
			t.Errorf("the topic: %q", line)
		}
	}
	if said != 4 { // hi, two, QUIT :x, the action
		t.Errorf("want 4 lines said, got %d in %q", said, all)
	}
	// The mapped nick reaches the telnet user it stands for.
	alice.Send("PRIVMSG bob¡x＠evil‚y :found you")
	waitLine(t, mal, "[PM from alice] found you")
}
