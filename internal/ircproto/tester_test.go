package ircproto_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// MAXTARGETS=1 is what 005 says and what the door holds a client to: a line naming several
// targets, repeated or not, is answered by one 407 and sends nothing, so one line is never
// many messages (or many numerics). NOTICE is held to it too, and answered by nothing.
func TestMaxTargets(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	tests := []struct{ send, target string }{
		{"PRIVMSG " + strings.Repeat("bob,", 49) + "bob :many", strings.Repeat("bob,", 49) + "bob"},
		{"PRIVMSG bob,bob :twice", "bob,bob"},
		{"PRIVMSG #c0,#c1,#c2 :x", "#c0,#c1,#c2"},
		{"PRIVMSG bob,#lobby :both", "bob,#lobby"},
		{"PRIVMSG bob,bob :\x01VERSION\x01", "bob,bob"},
	}
	for _, tt := range tests {
		alice.Send(tt.send)
		got := alice.sync()
		if len(got) != 1 || !strings.HasPrefix(got[0], ":hubbub 407 alice "+tt.target+" :too many targets") {
			t.Errorf("%.40q: got %q, want one 407", tt.send, got)
		}
	}
	for _, send := range []string{"NOTICE bob,bob :twice", "NOTICE bob,carol :x", "NOTICE #lobby,bob :both"} {
		alice.Send(send)
		if got := alice.sync(); len(got) > 0 {
			t.Errorf("%q: got %q, want no answer", send, got)
		}
	}
	// bob got none of it: the next line he hears from alice is the one to him alone.
	alice.Send("PRIVMSG bob :one")
	if line := waitLine(t, bob, "[PM from alice]"); !strings.Contains(line, "[PM from alice] one") {
		t.Errorf("bob got %q first, want alice's single line", line)
	}
	alice.Send("PRIVMSG #lobby :to the room")
	if line := waitLine(t, bob, "<alice>"); !strings.Contains(line, "<alice> to the room") {
		t.Errorf("bob got %q, want alice's line to the lobby", line)
	}
}

// joinLines sends JOIN channel and returns what the client got up to its 366.
func (u *ircUser) joinLines(channel string) []string {
	u.t.Helper()
	u.Send("JOIN " + channel)
	var lines []string
	for {
		line := u.ReadLine()
		lines = append(lines, line)
		if strings.Contains(line, " 366 "+u.nick+" "+channel+" ") {
			return lines
		}
	}
}

// A topic change replayed from history is told as history (a NOTICE from the server with
// its time), never as a live TOPIC: the topic the client is given is the room's own, 332
// when it has one, none when it has none.
func TestHistoryTopicIsNoLiveTopic(t *testing.T) {
	srv := accountsChat(t)
	alice := registerIRC(t, srv.IRC, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Send("JOIN #go")
	alice.until(" 366 alice #go ")
	alice.Send("TOPIC #go :Go talk")
	alice.until(":alice!u@hubbub TOPIC #go :Go talk")
	alice.Send("PRIVMSG #go :hello")
	alice.Send("PART #go")
	alice.until(":alice!u@hubbub PART #go")
	// bob re-making #go and hearing the replay means the lines are kept.
	bob.Send("/join #go")
	waitLine(t, bob, "hello")
	bob.Send("/part #go")
	waitLine(t, bob, "#lobby")

	noLiveTopic := func(who string, lines []string) {
		t.Helper()
		for _, l := range lines {
			if strings.Contains(l, " TOPIC ") || strings.Contains(l, " 332 ") {
				t.Errorf("%s: got %q: #go has no topic now", who, l)
			}
		}
	}
	// Without batch or server-time: the time in front, as the other lines replayed.
	frank := registerIRC(t, srv.IRC, "frank")
	lines := frank.joinLines("#go")
	noLiveTopic("frank", lines)
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, ":hubbub NOTICE #go :[20") || !strings.Contains(all, "] alice set the topic: Go talk") {
		t.Errorf("frank: no replayed topic as a NOTICE with its time in\n%s", all)
	}
	frank.Send("TOPIC #go")
	frank.until(" 331 frank #go :No topic is set")

	// With batch and server-time: a NOTICE in the batch, with its time as a tag.
	gina := dialIRC(t, srv.IRC)
	gina.nick = "gina"
	gina.Send("CAP REQ :batch server-time")
	gina.Send("NICK gina")
	gina.Send("USER gina 0 * :g")
	gina.Send("CAP END")
	gina.until(" 366 gina #lobby ")
	lines = gina.joinLines("#go")
	noLiveTopic("gina", lines)
	found := false
	for _, l := range lines {
		if strings.Contains(l, " NOTICE #go :alice set the topic: Go talk") {
			found = strings.HasPrefix(l, "@batch=") && strings.Contains(l, ";time=20") && strings.Contains(l, " :hubbub NOTICE ")
		}
	}
	if !found {
		t.Errorf("gina: no replayed topic as a NOTICE in the batch in\n%s", strings.Join(lines, "\n"))
	}

	// A room with a topic now (frank made #go again): 332 with it, after the replay.
	frank.Send("TOPIC #go :Generics")
	frank.until(":frank!u@hubbub TOPIC #go :Generics")
	hana := registerIRC(t, srv.IRC, "hana")
	lines = hana.joinLines("#go")
	all = strings.Join(lines, "\n")
	if !strings.Contains(all, ":hubbub 332 hana #go Generics") || strings.Contains(all, " TOPIC ") {
		t.Errorf("hana: want 332 with the topic and no TOPIC in\n%s", all)
	}
}

// What a client sends and the door echoes in an answer (a nick refused, a channel, a
// target, a command) is cleaned as everything else the door says: a control character or
// invalid UTF-8 is shown as U+FFFD, never sent back raw, and an answer is one line of IRC's
// length.
func TestEchoedParamsCleaned(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	check := func(t *testing.T, send string, got []string, want string) {
		t.Helper()
		seen := false
		for _, l := range got {
			if !utf8.ValidString(l) || strings.ContainsFunc(l, unicode.IsControl) || len(l)+2 > 512 {
				t.Errorf("%q: got %q", send, l)
			}
			seen = seen || strings.Contains(l, want)
		}
		if !seen {
			t.Errorf("%q: want a line with %q, got %q", send, want, got)
		}
	}
	t.Run("before registration", func(t *testing.T) {
		for _, tt := range []struct{ send, want string }{
			{"NICK ni\x01ck", " 432 * ni\uFFFDck :"},
			{"NICK \xff\xfe", " 432 * \uFFFD\uFFFD :"},
			{"NICK a\tb", " 432 * a\uFFFDb :"},
			{"NICK a\x1b[2Jb", " 432 * a\uFFFD[2Jb :"},
			{"CAP FOO\x07", " 410 * FOO\uFFFD :"},
			{"CAP REQ :x\x01y", " NAK :x\uFFFDy"},
			{"NICK " + strings.Repeat("\x01", 480), " 432 * \uFFFD\uFFFD"},
			{"CAP REQ :" + strings.Repeat("\x01", 480), " NAK :\uFFFD\uFFFD"},
			{"PING :" + strings.Repeat("\x01", 480), " PONG hubbub :\uFFFD\uFFFD"},
		} {
			u := dialIRC(t, srv.IRC)
			u.Send(tt.send)
			u.Send("USER u 0 * :u") // the chat refuses the nick it was given
			check(t, tt.send, u.sync(), tt.want)
		}
	})
	t.Run("registered", func(t *testing.T) {
		u := registerIRC(t, srv.IRC, "long1")
		u.sync()
		for _, tt := range []struct{ send, want string }{
			{"JOIN #a\x01b", " 403 long1 #a\uFFFDb :"},
			{"NICK ni\x01ck", " 432 long1 ni\uFFFDck :"},
			{"NICK \xff\xfe", " 432 long1 \uFFFD\uFFFD :"},
			{"PRIVMSG x\x1b[2Jy :hi", " 401 long1 x\uFFFD[2Jy :"},
			{"PRIVMSG x\xc0y :hi", " 401 long1 x\uFFFDy :"},
			{"TOPIC #a\x02b", " 403 long1 #a\uFFFDb :"},
			{"WHOIS a\x03b", " 401 long1 a\uFFFDb :"},
			{"MODE #a\x0fb", " 403 long1 #a\uFFFDb :"},
			{"FOO\x07", " 421 long1 FOO\uFFFD :"},
			{"PART #a\x7fb", " 403 long1 #a\uFFFDb :"},
		} {
			u.Send(tt.send)
			check(t, tt.send, u.sync(), tt.want)
		}
	})
}

// ':' is refused in a nick an IRC client asks for, and a telnet user's name that holds one
// is shown with a look-alike no hubbub name can hold, which reaches that user.
func TestColonInNicks(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	u := dialIRC(t, srv.IRC)
	u.Send("NICK a:b")
	u.until(" 432 * a:b :", "cannot hold", ":")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("NICK a:b")
	alice.until(" 432 alice a:b :", "cannot hold")

	tel := chattest.Join(t, srv.Addr, "c:d")
	join := alice.until("JOIN #lobby", "c")
	if join != ":c\uff1ad!u@hubbub JOIN #lobby" {
		t.Errorf("got %q, want c\uff1ad's JOIN", join)
	}
	tel.Send("hi")
	alice.until(":c\uff1ad!u@hubbub PRIVMSG #lobby :hi")
	alice.Send("WHOIS c\uff1ad")
	alice.until(" 311 alice c\uff1ad u hubbub * c\uff1ad")
	alice.Send("PRIVMSG c\uff1ad :found you")
	waitLine(t, tel, "[PM from alice] found you")

	// Inside a channel's name a ':' means nothing to IRC: it is kept.
	alice.Send("JOIN #x:y")
	alice.until(":alice!u@hubbub JOIN #x:y")
	alice.until(" 366 alice #x:y ")
	alice.Send("PRIVMSG #x:y :in")
	tel.Send("/join #x:y")
	alice.until(":c\uff1ad!u@hubbub JOIN #x:y")
}

// What irssi says at connect and on its own needs no refusal: a user MODE +i is answered 221,
// NAMES alone lists the client's channels, and a replay in a batch ends with the batch, not
// with a NOTICE.
func TestQuietForIRCClients(t *testing.T) {
	srv := accountsChat(t)
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("JOIN #go")
	alice.until(" 366 alice #go ")
	// A line is shown once it is kept: someone in #go seeing it means bea's replay has it.
	watcher := registerIRC(t, srv.IRC, "watcher")
	watcher.Send("JOIN #go")
	watcher.until(" 366 watcher #go ")
	alice.Send("PRIVMSG #go :kept")
	watcher.until(" PRIVMSG #go :kept")
	alice.sync()

	for _, tt := range []struct {
		send string
		want []string // lines with these, in order, and no other
	}{
		{"MODE alice +i", []string{" 221 alice +"}},
		{"MODE alice -x+iw", []string{" 221 alice +"}},
		{"NAMES", []string{" 353 alice = #go :@alice watcher", " 366 alice #go ", " 353 alice = #lobby :", " 366 alice #lobby "}},
	} {
		alice.Send(tt.send)
		got := alice.sync()
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], tt.want[i])
		}
		if !ok {
			t.Errorf("%q: got %q, want %q", tt.send, got, tt.want)
		}
	}

	u := dialIRC(t, srv.IRC)
	u.nick = "bea"
	u.Send("CAP REQ :batch server-time")
	u.Send("NICK bea")
	u.Send("USER bea 0 * :b")
	u.Send("CAP END")
	u.until(" 366 bea #lobby ")
	lines := u.joinLines("#go")
	lines = append(lines, u.sync()...)
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, " PRIVMSG #go :kept") || !strings.Contains(all, "BATCH -") {
		t.Errorf("bea: no replay in a batch in\n%s", all)
	}
	noNotices(t, "bea's replay", lines)
}
