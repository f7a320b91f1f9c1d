package ircproto_test

import (
	"strings"
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

// What happens to members reaches an IRC client as IRC says it: a nick change is NICK, a
// topic TOPIC, a kick KICK, a quit one QUIT however many channels are shared; and the nc
// user hears the IRC user's in its words.
func TestEventsBothWays(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #go")
	waitLine(t, bob, "you made #go")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("JOIN #go")
	alice.until(" 353 alice = #go :")
	alice.until(" 366 alice #go ")
	waitLine(t, bob, "alice has joined #go")

	bob.Send("/topic gophers only")
	alice.until(":bob!u@hubbub TOPIC #go :gophers only")
	bob.Send("/nick robert")
	alice.until(":bob!u@hubbub NICK :robert")
	alice.Send("NICK al")
	alice.until(":alice!u@hubbub NICK :al")
	waitLine(t, bob, "alice is now known as al")
	alice.Send("TOPIC #go :mine now?")
	alice.until(" 482 al #go :")
	alice.Send("PRIVMSG robert :hi")
	waitLine(t, bob, "[PM from al] hi")

	// The owner kicks the IRC user: KICK, and the client knows it left #go.
	bob.Send("/kick al enough")
	alice.until(":robert!u@hubbub KICK #go al :enough")
	alice.Send("PRIVMSG #go :still here?")
	alice.until(" 404 al #go :Cannot send to channel (you are not in it: /join #go)")
	alice.Send("JOIN #go")
	alice.until(":al!u@hubbub JOIN #go")
	alice.until(" 332 al #go :gophers only")
	alice.until(" 353 al = #go :@robert al")

	// The IRC user owns a channel of its own: its topic and its kick reach the nc user.
	alice.Send("JOIN #irc")
	alice.until(" 366 al #irc ")
	bob.Send("/join #irc")
	alice.until(":robert!u@hubbub JOIN #irc")
	alice.Send("TOPIC #irc :set on IRC")
	waitLine(t, bob, "al set the topic of #irc: set on IRC")
	alice.until(":al!u@hubbub TOPIC #irc :set on IRC")
	alice.Send("KICK #irc robert :out")
	waitLine(t, bob, "you were kicked from #irc by al: out")
	alice.until(":al!u@hubbub KICK #irc robert :out")
	bob.Send("/join #irc")
	alice.until(":robert!u@hubbub JOIN #irc")

	// One QUIT, though three channels are shared.
	bob.Send("/quit gone fishing")
	alice.until(":robert!u@hubbub QUIT :quit: gone fishing")
	for _, line := range alice.sync() {
		if strings.Contains(line, "QUIT") {
			t.Errorf("a second QUIT: %q", line)
		}
	}

	// An IRC user's QUIT reaches the nc user as a quit, with its reason.
	carol := chattest.Join(t, srv.Addr, "carol")
	alice.until(":carol!u@hubbub JOIN #lobby")
	alice.Send("QUIT :bye all")
	alice.until("ERROR :Closing link")
	waitLine(t, carol, "al has left the channel. (quit: bye all)")
}

// echo-message gives the sender its own lines back, server-time stamps what the chat says.
func TestEchoMessageAndServerTime(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	u := dialIRC(t, srv.IRC)
	u.Send("CAP REQ :echo-message server-time message-tags")
	u.until("CAP * ACK :echo-message server-time message-tags")
	u.Send("NICK alice")
	u.Send("USER alice 0 * :a")
	u.Send("CAP END")
	u.until(" 366 alice #lobby ")
	u.Send("PRIVMSG #lobby :to all")
	line := u.until(":alice!u@hubbub PRIVMSG #lobby :to all")
	if !strings.HasPrefix(line, "@time=") {
		t.Errorf("echo without a time: %q", line)
	}
	u.Send("PRIVMSG bob :to you")
	u.until("@time=", ":alice!u@hubbub PRIVMSG bob :to you")
	waitLine(t, bob, "[PM from alice] to you")
	bob.Send("hello")
	line = u.until(":bob!u@hubbub PRIVMSG #lobby :hello")
	if !strings.HasPrefix(line, "@time=20") || !strings.Contains(line, "Z :bob") {
		t.Errorf("want a server-time tag: %q", line)
	}

	// Without echo-message, the client's own lines are not sent back.
	plain := registerIRC(t, srv.IRC, "plain")
	plain.Send("PRIVMSG #lobby :once")
	plain.Send("PRIVMSG bob :once too")
	for _, line := range plain.sync() {
		if strings.Contains(line, "once") {
			t.Errorf("echoed without echo-message: %q", line)
		}
	}
}
