package ircproto_test

import (
	"fmt"
	"unicode/utf8"

	"hubbub/internal/lineproto"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// A long line without spaces from a telnet user reaches an IRC client as lines of at most 512
// bytes, CR LF included, that together hold every byte of it (it reached IRC clients as 511
// bytes and CR LF: the line's head was counted a byte short).
func TestLongLineFitsIRC(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.until(":bob!u@hubbub JOIN #lobby")
	text := strings.Repeat("y", 4000)
	bob.Send(text)
	bob.Send("end")
	var got strings.Builder
	for _, line := range alice.readUntil(":bob!u@hubbub PRIVMSG #lobby :end") {
		if len(line)+2 > 512 {
			t.Errorf("a line of %d bytes with its CR LF: %.60q...", len(line)+2, line)
		}
		if rest, ok := strings.CutPrefix(line, ":bob!u@hubbub PRIVMSG #lobby :"); ok && rest != "end" {
			got.WriteString(rest)
		}
	}
	if got.String() != text {
		t.Errorf("got %d bytes of bob's line, want its 4000", got.Len())
	}
}

// message-tags is offered, and the door says what it does with client tags: 005 says
// CLIENTTAGDENY=*, a TAGMSG is taken and relayed to no one, and a PRIVMSG with client tags
// goes through without them (TAGMSG was 421; TestCommands has its 461).
func TestClientTagsDenied(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := registerIRC(t, srv.IRC, "bob")
	bob.Send("CAP REQ :message-tags")
	bob.until("CAP bob ACK :message-tags")
	u := dialIRC(t, srv.IRC)
	u.nick = "alice"
	u.Send("CAP REQ :message-tags")
	u.Send("NICK alice")
	u.Send("USER alice 0 * :a")
	u.Send("CAP END")
	u.until(" 005 alice ", "CLIENTTAGDENY=*")
	u.until(" 366 alice #lobby ")
	bob.until(":alice!u@hubbub JOIN #lobby")
	bob.sync()

	u.Send("@+draft/react=👍;+draft/reply=1 TAGMSG #lobby")
	u.Send("@+draft/typing=active TAGMSG bob")
	u.Send("@+draft/reply=1;+example.com/x=y PRIVMSG #lobby :tagged")
	if got := u.sync(); len(got) != 0 {
		t.Errorf("alice got %q, want no answer to TAGMSG or PRIVMSG", got)
	}
	// bob gets the line, untagged, and nothing before it.
	if line := bob.ReadLine(); line != ":alice!u@hubbub PRIVMSG #lobby :tagged" {
		t.Errorf("bob got %q, want alice's line without tags", line)
	}
}

// Answers that could pass IRC's 512 bytes are held to it: WHOIS of a member of many channels
// with long names says them on several 319 lines, and a topic of 300 three-byte characters is
// cut to fit its 332, on JOIN and on TOPIC (both were one line of about 700 and 950 bytes).
func TestLongAnswersFitIRC(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.MaxRoomsPerUser = 12
	srv := start(t, cfg)
	bob := chattest.Join(t, srv.Addr, "bob")
	var rooms []string
	for i := range 11 {
		room := "#" + strings.Repeat("é", 30) + string(rune('a'+i))
		rooms = append(rooms, room)
		bob.Send("/join " + room)
		waitLine(t, bob, "you made")
	}
	topic := strings.Repeat("€", 300)
	bob.Send("/topic " + topic)
	waitLine(t, bob, "set the topic")
	alice := registerIRC(t, srv.IRC, "alice")

	fits := func(what string, lines []string) {
		t.Helper()
		for _, l := range lines {
			if len(l)+2 > 512 {
				t.Errorf("%s: a line of %d bytes: %.80q", what, len(l)+2, l)
			}
			if !utf8.ValidString(l) {
				t.Errorf("%s: a line cut inside a character: %q", what, l)
			}
		}
	}
	alice.Send("WHOIS bob")
	whois := alice.readUntil(" 318 alice bob ")
	fits("WHOIS", whois)
	var listed []string
	for _, l := range whois {
		if _, chans, ok := strings.Cut(l, " 319 alice bob :"); ok {
			listed = append(listed, strings.Fields(chans)...)
		}
	}
	if want := append([]string{"#lobby"}, rooms...); strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Errorf("319s list %q, want %q", listed, want)
	}

	last := rooms[len(rooms)-1]
	join := alice.joinLines(last)
	fits("JOIN", join)
	alice.Send("TOPIC " + last)
	got := alice.until(" 332 alice " + last + " :€€€")
	fits("TOPIC", []string{got})
	if !strings.HasSuffix(got, "€") {
		t.Errorf("TOPIC: %q", got)
	}
}

// MODE #chan b lists the server's bans to an operator (367 each, then 368), as many as fit a
// quarter of the queue, as every list: 368 says how many were shown of how many (it listed
// every ban, however many).
func TestBanListBounded(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "opersecret"
	srv := start(t, cfg, func(c *lineproto.Config) { c.MaxQueue = 8 << 10 })
	op := chattest.Join(t, srv.Addr, "op")
	op.Send("/oper opersecret")
	waitLine(t, op, "operator")
	const bans = 120
	for i := range bans {
		op.Send(fmt.Sprintf("/ban 10.0.%d.%d", i/100, i%100))
	}
	op.Send("/ban")
	waitLine(t, op, fmt.Sprintf("%d bans:", bans))

	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("MODE #lobby b")
	if got := alice.sync(); len(got) != 1 || !strings.Contains(got[0], " 368 alice #lobby :End of channel ban list") {
		t.Errorf("not an operator: got %q, want 368 alone", got)
	}
	alice.Send("OPER alice opersecret")
	alice.until(" 381 alice :You are now an IRC operator")
	alice.Send("MODE #lobby +b")
	lines := alice.readUntil(" 368 alice #lobby ")
	shown, size := 0, 0
	for _, l := range lines[:len(lines)-1] {
		size += len(l) + 2
		if strings.Contains(l, " 367 alice #lobby *!*@10.0.") {
			shown++
		}
	}
	if want := fmt.Sprintf(":End of channel ban list: %d of %d shown", shown, bans); shown == 0 || shown >= bans || !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("%d bans shown, last line %q, want %q", shown, lines[len(lines)-1], want)
	}
	if size > (8<<10)/4 {
		t.Errorf("%d bytes of 367s, over a quarter of the queue", size)
	}
}

// What worked and was not tested: 404 to a muted member, the MOTD (what --motd-file gives)
// as 375, 372s and 376 at registration and on MOTD, OPER's 381 and its wrong password's 464,
// and 367 for a ban.
func TestModerationNumerics(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "opersecret"
	cfg.MOTD = []string{"Be kind.", "No spam."}
	srv := start(t, cfg)

	alice := dialIRC(t, srv.IRC)
	alice.nick = "alice"
	alice.Send("NICK alice")
	alice.Send("USER alice 0 * :a")
	welcome := alice.readUntil(" 366 alice #lobby ")
	wantInOrder(t, "registration", welcome, " 375 alice :- hubbub Message of the day -",
		" 372 alice :- Be kind.", " 372 alice :- No spam.", " 376 alice :End of /MOTD command")
	alice.Send("MOTD")
	wantInOrder(t, "MOTD", alice.sync(), " 375 alice :- hubbub Message of the day -",
		" 372 alice :- Be kind.", " 372 alice :- No spam.", " 376 alice :End of /MOTD command")

	wrong := &ircUser{Client: chattest.DialFrom(t, "127.0.0.4", srv.IRC), t: t, nick: "wrong"}
	wrong.Send("NICK wrong")
	wrong.Send("USER wrong 0 * :w")
	wrong.until(" 366 wrong #lobby ")
	wrong.Send("OPER wrong not it")
	wrong.until(" 464 wrong :wrong password: wait ")

	alice.Send("OPER alice opersecret")
	alice.until(" 381 alice :You are now an IRC operator")

	bob := registerIRC(t, srv.IRC, "bob")
	op := chattest.Join(t, srv.Addr, "op")
	op.Send("/oper opersecret")
	waitLine(t, op, "operator")
	op.Send("/mute bob")
	waitLine(t, op, "bob")
	bob.Send("PRIVMSG #lobby :let me")
	bob.until(" 404 bob #lobby :you are muted for another ")
	op.Send("/ban mallory")
	waitLine(t, op, "mallory")
	alice.Send("MODE #lobby b")
	wantInOrder(t, "MODE b", alice.sync(), " 367 alice #lobby mallory!*@*", " 368 alice #lobby :End of channel ban list")
}

// wantInOrder checks that lines hold a line with each of want, in that order.
func wantInOrder(t *testing.T, what string, lines []string, want ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		if i < len(want) && strings.Contains(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("%s: no line with %q (in order) in %q", what, want[i], lines)
	}
}

// A guest that sends PASS (bouncers and some clients always send one) comes in as a guest,
// told that its password was not used; a nick taken meanwhile is refused with 433 and another
// one may be chosen; an account's nick is still refused with a wrong password (TestSASL).
// Both were 464 and a closed connection.
func TestGuestPassIgnored(t *testing.T) {
	srv := accountsChat(t)
	chattest.Join(t, srv.Addr, "bob")
	u := dialIRC(t, srv.IRC)
	u.nick = "dave"
	u.Send("PASS :bouncer secret")
	u.Send("NICK bob")
	u.Send("USER dave 0 * :d")
	u.until(" 433 * bob :bob is taken")
	u.Send("NICK dave")
	u.until(" 001 dave ")
	u.until(":hubbub NOTICE dave :your password was not used: dave is no account here, so you are a guest")
	u.until(" 366 dave #lobby ")
	u.Send("WHOIS dave")
	for _, l := range u.readUntil(" 318 dave dave ") {
		if strings.Contains(l, " 330 ") {
			t.Errorf("dave is logged in: %q", l)
		}
	}
	// A guest without PASS is told nothing of passwords.
	v := registerIRC(t, srv.IRC, "vera")
	for _, l := range v.sync() {
		if strings.Contains(l, "password") {
			t.Errorf("vera got %q", l)
		}
	}
}

// An IRC NOTICE reaches IRC clients as a NOTICE, in a channel and in private, with history
// kept or not, so that their bots never answer it (it was a PRIVMSG); echo-message gives the
// sender its NOTICE back; telnet users see it as any line. No error answers a NOTICE
// (TestCommands: to an unknown nick, to a channel the sender is not in).
func TestNoticeStaysNotice(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(t *testing.T) *chatServers
	}{
		{"no history", func(t *testing.T) *chatServers { return start(t, chat.DefaultConfig()) }},
		{"history", func(t *testing.T) *chatServers { return accountsChat(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.start(t)
			tel := chattest.Join(t, srv.Addr, "tel")
			bob := registerIRC(t, srv.IRC, "bob")
			alice := dialIRC(t, srv.IRC)
			alice.nick = "alice"
			alice.Send("CAP REQ :echo-message")
			alice.Send("NICK alice")
			alice.Send("USER alice 0 * :a")
			alice.Send("CAP END")
			alice.until(" 366 alice #lobby ")
			bob.until(":alice!u@hubbub JOIN #lobby")
			alice.sync()

			alice.Send("NOTICE #lobby :to the room")
			bob.until(":alice!u@hubbub NOTICE #lobby :to the room")
			alice.until(":alice!u@hubbub NOTICE #lobby :to the room")
			waitLine(t, tel, "<alice> to the room")

			alice.Send("NOTICE bob :to bob")
			bob.until(":alice!u@hubbub NOTICE bob :to bob")
			alice.until(":alice!u@hubbub NOTICE bob :to bob")
			alice.Send("NOTICE tel :to tel")
			waitLine(t, tel, "[PM from alice] to tel")
			alice.until(":alice!u@hubbub NOTICE tel :to tel")

			// A PRIVMSG is still one.
			alice.Send("PRIVMSG #lobby :a line")
			bob.until(":alice!u@hubbub PRIVMSG #lobby :a line")
			alice.Send("PRIVMSG bob :a word")
			bob.until(":alice!u@hubbub PRIVMSG bob :a word")
		})
	}
}

// A client the server ends the link of is told why with ERROR (after a ping it did not
// answer: it was closed with nothing said), and the others are told why it went with a reason
// they can read: QUIT :ping timeout, QUIT :connection closed (both were QUIT with no reason),
// and the line door says the same.
func TestEndOfLinkSaysWhy(t *testing.T) {
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) { c.PingInterval = time.Second })
	tel := chattest.Join(t, srv.Addr, "tel")
	live := registerIRC(t, srv.IRC, "live")
	// live answers its pings all along (dead's end takes two intervals): its lines come
	// through a goroutine that does, and untilPong waits for one with every part.
	lines := make(chan string)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			line, err := live.TryReadLine(chattest.Timeout)
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING ") {
				live.Conn.Write([]byte("PONG :hubbub\r\n"))
			}
			select {
			case lines <- line:
			case <-stop:
				return
			}
		}
	}()
	untilPong := func(parts ...string) {
		t.Helper()
		deadline := time.After(chattest.Timeout)
		for {
			select {
			case line := <-lines:
				if containsAll(line, parts) {
					return
				}
			case <-deadline:
				t.Fatalf("live: no line with %q", parts)
			}
		}
	}
	dead := registerIRC(t, srv.IRC, "dead")
	untilPong(":dead!u@hubbub JOIN #lobby")
	dead.until("PING :hubbub")
	if rest := dead.ExpectClosed(); !strings.Contains(rest, "ERROR :Closing link: ping timeout") {
		t.Errorf("dead got %q before the end, want ERROR :Closing link: ping timeout", rest)
	}
	untilPong(":dead!u@hubbub QUIT :ping timeout")
	waitLine(t, tel, "dead has left the channel. (ping timeout)")

	gone := registerIRC(t, srv.IRC, "gone")
	untilPong(":gone!u@hubbub JOIN #lobby")
	gone.Conn.Close()
	untilPong(":gone!u@hubbub QUIT :connection closed")
	waitLine(t, tel, "gone has left the channel. (connection closed)")

	// A QUIT's own reason is the user's, marked so.
	bye := registerIRC(t, srv.IRC, "bye")
	untilPong(":bye!u@hubbub JOIN #lobby")
	bye.Send("QUIT :ping timeout")
	untilPong(":bye!u@hubbub QUIT :quit: ping timeout")
}
