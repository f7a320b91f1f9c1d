package ircproto_test

import (
	"regexp"
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// One room line, encoded once per wire format and shared by every client of that format, reaches
// each client in its own format: an nc user its line, an IRC client without server-time a bare
// PRIVMSG, and IRC clients with server-time, negotiated before registration or asked for after
// it, the PRIVMSG with its time tag.
func TestEachFramingItsOwnBytes(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	plain := registerIRC(t, srv.IRC, "plain")

	early := dialIRC(t, srv.IRC)
	early.nick = "early"
	early.Send("CAP REQ :server-time")
	early.Send("NICK early")
	early.Send("USER early 0 * :e")
	early.Send("CAP END")
	early.until(" 366 early #lobby ")

	late := registerIRC(t, srv.IRC, "late")
	// A line before the capability goes out bare: late's room lines were already being sent
	// in the plain format when it asks.
	bob.Send("before the cap")
	late.until(":bob!u@hubbub PRIVMSG #lobby :before the cap")
	late.Send("CAP REQ :server-time")
	late.until(" CAP late ACK :server-time")
	bob.Send("after the cap")
	if line := late.until("bob!"); !strings.HasPrefix(line, "@time=") || !strings.HasSuffix(line, " PRIVMSG #lobby :after the cap") {
		t.Errorf("late got %q after asking for server-time, want the PRIVMSG with its time tag", line)
	}

	carol := chattest.Join(t, srv.Addr, "carol")
	for _, u := range []*ircUser{plain, early, late} {
		u.until(":carol!u@hubbub JOIN #lobby")
	}
	waitLine(t, bob, "carol has joined")
	carol.Send("hello all")
	carol.Send("/me waves")

	if line := waitLine(t, bob, "carol"); line != "<carol> hello all" {
		t.Errorf("bob got %q, want the line as nc shows it", line)
	}
	if line := waitLine(t, bob, "carol"); line != "* carol waves" {
		t.Errorf("bob got %q, want the action as nc shows it", line)
	}
	if line := plain.until("carol"); line != ":carol!u@hubbub PRIVMSG #lobby :hello all" {
		t.Errorf("plain got %q, want a PRIVMSG without tags", line)
	}
	if line := plain.until("carol"); line != ":carol!u@hubbub PRIVMSG #lobby :\x01ACTION waves\x01" {
		t.Errorf("plain got %q, want the action without tags", line)
	}
	tagged := regexp.MustCompile(`^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :carol!u@hubbub PRIVMSG #lobby :`)
	for _, u := range []*ircUser{early, late} {
		for _, text := range []string{"hello all", "\x01ACTION waves\x01"} {
			line := u.until("carol")
			if !tagged.MatchString(line) || !strings.HasSuffix(line, ":"+text) {
				t.Errorf("%s got %q, want the PRIVMSG %q with its time tag", u.nick, line, text)
			}
		}
	}
}
