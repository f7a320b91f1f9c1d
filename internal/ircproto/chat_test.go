package ircproto_test

import (
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// An IRC user and an nc user in one room see each other's joins, lines, actions and parts.
func TestIRCAndLineUserTalk(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.until(":bob!u@hubbub JOIN #lobby")

	alice.Send("JOIN #go")
	alice.until(":alice!u@hubbub JOIN #go")
	alice.until(" 353 alice = #go :@alice")
	alice.until(" 366 alice #go ")
	bob.Send("/join #go")
	alice.until(":bob!u@hubbub JOIN #go")

	alice.Send("PRIVMSG #go :hello bob")
	waitLine(t, bob, "<alice> hello bob")
	bob.Send("hi alice")
	alice.until(":bob!u@hubbub PRIVMSG #go :hi alice")
	alice.Send("PRIVMSG #go :\x01ACTION waves\x01")
	waitLine(t, bob, "* alice waves")
	bob.Send("/me nods")
	alice.until(":bob!u@hubbub PRIVMSG #go :\x01ACTION nods\x01")

	// Private messages, both ways.
	bob.Send("/msg alice psst")
	alice.until(":bob!u@hubbub PRIVMSG alice :psst")
	alice.Send("PRIVMSG bob :back")
	waitLine(t, bob, "[PM from alice] back")

	bob.Send("/part #go")
	alice.until(":bob!u@hubbub PART #go")
	alice.Send("PART #go :bye")
	alice.until(":alice!u@hubbub PART #go :bye")
}

// A registered IRC client's PING is answered at once, in order with what came before.
func TestPingAnswered(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()
}
