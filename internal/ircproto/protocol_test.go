package ircproto_test

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// Every command and numeric a registered client meets, one line in and the reply expected
// (each part in one line, the lines in order). alice is on IRC; bob, an nc user, is in the
// lobby and in #bobs, which he made.
func TestCommands(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #bobs")
	waitLine(t, bob, "you made #bobs")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	tests := []struct {
		send string
		want [][]string // a line with each of these, in order
	}{
		{"PING :x", [][]string{{"PONG hubbub :x"}}},
		{"FOO bar", [][]string{{" 421 alice FOO :Unknown command"}}},
		{"PRIVMSG", [][]string{{" 411 alice :No recipient"}}},
		{"PRIVMSG bob", [][]string{{" 412 alice :No text"}}},
		{"PRIVMSG nobody :hi", [][]string{{" 401 alice nobody :no one called nobody is online"}}},
		{"NOTICE nobody :hi", nil}, // never answered with an error
		// A name that cleans to nothing is not said as nothing.
		{"PRIVMSG \x1b[2J :hi", [][]string{{" 401 alice \uFFFD[2J :no one by that name is online"}}},
		{"WHOIS \x1b]0;x\x07", [][]string{{" 401 alice \uFFFD]0;x\uFFFD :no one by that name is online"}, {" 318 alice "}}},
		{"PRIVMSG no\x1b[1mbody :hi", [][]string{{" 401 alice no\uFFFD[1mbody :no one called nobody is online"}}},
		// +n (324 says +nt): a message from outside a channel is 404, as on any IRC server.
		{"PRIVMSG #bobs :hi", [][]string{{" 404 alice #bobs :Cannot send to channel (you are not in it: /join #bobs)"}}},
		{"NOTICE #bobs :hi", nil},
		{"TAGMSG", [][]string{{" 461 alice TAGMSG :Not enough parameters"}}},
		{"@+draft/react=x TAGMSG #lobby", nil}, // client tags are all refused (CLIENTTAGDENY=*): nothing to relay
		{"@+draft/typing=active TAGMSG bob", nil},
		{"JOIN", [][]string{{" 461 alice JOIN :Not enough parameters"}}},
		{"JOIN nochannel", [][]string{{" 403 alice nochannel :"}}},
		{"JOIN #", [][]string{{" 403 alice # :a room name needs"}}},
		{"PART #nowhere", [][]string{{" 403 alice #nowhere :there is no room #nowhere"}}},
		{"PART #bobs", [][]string{{" 442 alice #bobs :"}}},
		{"PART #lobby", [][]string{{" 482 alice #lobby :#lobby is your only room"}}},
		{"TOPIC #lobby :mine", [][]string{{" 482 alice #lobby :only operators"}}},
		{"TOPIC #lobby", [][]string{{" 331 alice #lobby :No topic is set"}}},
		{"KICK #lobby bob", [][]string{{" 482 alice #lobby :"}}},
		{"KICK #bobs bob", [][]string{{" 482 alice #bobs :"}}},
		{"KICK #lobby", [][]string{{" 461 alice KICK "}}},
		{"JOIN #mine", [][]string{{":alice!u@hubbub JOIN #mine"}, {" 366 alice #mine "}}},
		{"KICK #mine nobody", [][]string{{" 401 alice nobody :no one called nobody is online"}}},
		{"KICK #mine \x1b[1m", [][]string{{" 401 alice \uFFFD[1m :no one by that name is online"}}},
		{"KICK #mine bob", [][]string{{" 441 alice bob #mine :bob is not in #mine"}}},
		{"KICK #mine alice", [][]string{{" 400 alice #mine :not on yourself"}}},
		{"PART #mine", [][]string{{":alice!u@hubbub PART #mine"}}},
		{"NAMES #lobby,#lobby", [][]string{{" 407 alice #lobby,#lobby :too many targets"}}},
		{"NICK", [][]string{{" 431 alice :No nickname given"}}},
		{"NICK #x", [][]string{{" 432 alice #x :"}}},
		{"NICK admin", [][]string{{" 432 alice admin :that name is reserved"}}},
		{"NICK bob", [][]string{{" 433 alice bob :bob is taken"}}},
		{"NICK B0B", [][]string{{" 433 alice B0B :"}}},
		{"USER a b c d", [][]string{{" 462 alice :You may not reregister"}}},
		{"PASS secret", [][]string{{" 462 alice "}}},
		{"OPER alice secret", [][]string{{" 491 alice :this server has no operator password"}}},
		{"OPER alice", [][]string{{" 461 alice OPER "}}},
		{"ISON bob nobody alice", [][]string{{" 303 alice :bob alice "}}},
		{"USERHOST bob", [][]string{{" 302 alice :bob=+u@hubbub "}}},
		{"WHOIS bob", [][]string{{" 311 alice bob u hubbub * bob"}, {" 319 alice bob :#lobby #bobs"}, {" 312 alice bob hubbub "}, {" 317 alice bob "}, {" 318 alice bob :End of /WHOIS list"}}},
		{"WHOIS", [][]string{{" 431 alice :No nickname given"}}},
		{"WHOIS nobody", [][]string{{" 401 alice nobody :"}, {" 318 alice nobody :"}}},
		{"WHO #bobs", [][]string{{" 352 alice #bobs u hubbub hubbub bob H@ :0 bob"}, {" 315 alice #bobs :End of /WHO list"}}},
		{"WHO bob", [][]string{{" 352 alice * u hubbub hubbub bob H :0 bob"}, {" 315 alice bob "}}},
		{"LIST", [][]string{{" 321 alice Channel "}, {" 322 alice #lobby 2 "}, {" 322 alice #bobs 1 "}, {" 323 alice :End of /LIST"}}},
		{"LIST #BOBS,#nosuch", [][]string{{" 321 alice Channel "}, {" 322 alice #bobs 1 "}, {" 323 alice :End of /LIST"}}},
		{"LIST #bobs,#LOBBY,#Bobs", [][]string{{" 322 alice #lobby 2 "}, {" 322 alice #bobs 1 "}, {" 323 alice :End of /LIST"}}}, // the busiest first
		{"LIST >1", [][]string{{" 322 alice #lobby 2 "}, {" 322 alice #bobs 1 "}, {" 323 alice :End of /LIST"}}},
		{"NAMES #bobs", [][]string{{" 353 alice = #bobs :@bob"}, {" 366 alice #bobs :End of /NAMES list"}}},
		{"MODE #lobby", [][]string{{" 324 alice #lobby +nt"}}},
		{"MODE #lobby b", [][]string{{" 368 alice #lobby :End of channel ban list"}}},
		{"MODE #lobby +o bob", [][]string{{" 482 alice #lobby :"}}},
		{"MODE #nowhere", [][]string{{" 403 alice #nowhere :"}}},
		{"MODE alice", [][]string{{" 221 alice +"}}},
		{"MODE alice +z", [][]string{{" 501 alice "}}},
		{"MODE bob", [][]string{{" 502 alice "}}},
		{"AWAY :lunch", [][]string{{" 306 alice :You have been marked as being away"}}},
		{"AWAY", [][]string{{" 305 alice :You are no longer marked as being away"}}},
		{"MOTD", [][]string{{" 422 alice "}}},
		{"CAP LIST", [][]string{{"CAP alice LIST :"}}},
		{"CAP REQ :bogus", [][]string{{"CAP alice NAK :bogus"}}},
		{"CAP REQ :server-time", [][]string{{"CAP alice ACK :server-time"}}},
		{"CAP REQ :-server-time", [][]string{{"CAP alice ACK :-server-time"}}},
		{"CAP FOO", [][]string{{" 410 alice FOO "}}},
		{"AUTHENTICATE PLAIN", [][]string{{" 907 alice "}}},
		{"PRIVMSG bob :\x01VERSION\x01", [][]string{{":bob!u@hubbub NOTICE alice :\x01VERSION hubbub\x01"}}},
		{"PRIVMSG bob :\x01PING 123\x01", [][]string{{":bob!u@hubbub NOTICE alice :\x01PING 123\x01"}}},
		// To a channel: the server answers, not a user named after the channel.
		{"PRIVMSG #lobby :\x01VERSION\x01", [][]string{{":hubbub NOTICE alice :\x01VERSION hubbub\x01"}}},
		{"PRIVMSG bob :\x01DCC SEND x\x01", nil}, // never passed on
		{"PRIVMSG alice :me", [][]string{{" 400 alice alice :that is you"}}},
	}
	for _, tt := range tests {
		t.Run(strings.ToValidUTF8(tt.send, "?"), func(t *testing.T) {
			alice.Send(tt.send)
			got := alice.sync()
			i := 0
			for _, line := range got {
				if i < len(tt.want) && containsAll(line, tt.want[i]) {
					i++
				}
			}
			if i < len(tt.want) {
				t.Errorf("%q: want a line with %q, got %q", tt.send, tt.want[i], got)
			}
			if tt.want == nil && len(got) > 0 {
				t.Errorf("%q: want no answer, got %q", tt.send, got)
			}
		})
	}
	// bob got no CTCP and nothing of alice's failed tries.
	bob.Send("/who")
	line := waitLine(t, bob, "*** #bobs")
	if strings.Contains(line, "\x01") {
		t.Errorf("bob got %q", line)
	}
}

// Registration in the orders clients use: CAP negotiation holds it until CAP END; NICK and
// USER in either order; commands before it get 451; a refused nick can be chosen again.
func TestRegistrationOrders(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	chattest.Join(t, srv.Addr, "bob")

	t.Run("cap first", func(t *testing.T) {
		u := dialIRC(t, srv.IRC)
		u.Send("CAP LS 302")
		u.until("CAP * LS :away-notify batch echo-message message-tags multi-prefix sasl=PLAIN server-time")
		u.Send("NICK carol")
		u.Send("USER carol 0 * :Carol")
		u.Send("CAP REQ :multi-prefix server-time")
		u.until("CAP * ACK :multi-prefix server-time")
		for _, line := range u.sync() {
			if strings.Contains(line, " 001 ") {
				t.Fatalf("registered before CAP END: %q", line)
			}
		}
		u.Send("CAP END")
		u.until(" 001 carol :Welcome to hubbub, carol")
		u.until(" 005 carol ", "CASEMAPPING=rfc8265", "CHANTYPES=#", "NICKLEN=32", "PREFIX=(o)@", "NETWORK=hubbub")
		u.until(" 422 carol ")
		u.until(":carol!u@hubbub JOIN #lobby")
		u.until(" 353 carol = #lobby :")
		u.until(" 366 carol #lobby ")
	})
	t.Run("user first", func(t *testing.T) {
		u := dialIRC(t, srv.IRC)
		u.Send("PRIVMSG bob :hi")
		u.until(" 451 * :You have not registered")
		u.Send("USER dave 0 * :Dave")
		u.Send("NICK b0b")
		u.until(" 433 * b0b :")
		u.Send("NICK bad,nick")
		u.until(" 432 * bad,nick :")
		u.Send("NICK dave")
		u.until(" 001 dave ")
	})
	t.Run("quit before", func(t *testing.T) {
		u := dialIRC(t, srv.IRC)
		u.Send("QUIT")
		u.until("ERROR :Closing link")
		u.ExpectClosed()
	})
}

// accountsChat runs a chat whose accounts are kept in a real SQLite file, with the account
// "carol" (password "correct horse battery").
func accountsChat(t *testing.T, opts ...func(*chat.Config)) *chatServers {
	t.Helper()
	s, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n, _ := chat.ParseName("carol")
	hash, err := password.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(t.Context(), chat.Account{Name: "carol", Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	cfg := chat.DefaultConfig()
	cfg.History, cfg.Bans, cfg.Accounts = s, s, s
	for _, opt := range opts {
		opt(&cfg)
	}
	srv := start(t, cfg)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv
}

func saslPlain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + "\x00" + user + "\x00" + pw))
}

// SASL PLAIN logs in to a hubbub account with its password; a wrong one is refused and the
// account's name stays closed to guests (433 with the reason).
func TestSASL(t *testing.T) {
	srv := accountsChat(t)

	// From an address of its own: the guard against guessing slows the next try from it.
	wrong := &ircUser{Client: chattest.DialFrom(t, "127.0.0.2", srv.IRC), t: t}
	wrong.Send("CAP LS 302")
	wrong.Send("NICK carol")
	wrong.Send("USER carol 0 * :c")
	wrong.Send("CAP REQ :sasl")
	wrong.until("CAP * ACK :sasl")
	wrong.Send("AUTHENTICATE PLAIN")
	wrong.until("AUTHENTICATE +")
	wrong.Send("AUTHENTICATE " + saslPlain("carol", "wrong password here"))
	wrong.until(" 904 * :SASL authentication failed: wrong account name or password")
	wrong.Send("CAP END")
	wrong.until(" 433 * carol :carol is a registered account: log in to use it")

	right := dialIRC(t, srv.IRC)
	right.Send("CAP LS 302")
	right.Send("NICK whoever")
	right.Send("USER carol 0 * :c")
	right.Send("CAP REQ :sasl")
	right.Send("AUTHENTICATE PLAIN")
	right.until("AUTHENTICATE +")
	right.Send("AUTHENTICATE " + saslPlain("carol", "correct horse battery"))
	right.until(" 900 * carol!u@hubbub carol :You are now logged in as carol")
	right.until(" 903 * :SASL authentication successful")
	right.Send("CAP END")
	right.until(" 001 carol ")
	right.Send("WHOIS carol")
	right.until(" 330 carol carol carol :is logged in as")

	// The account's other device, on telnet, is in #go: the IRC device is told it is in
	// both channels, and sees what the telnet device does as its own.
	tel := chattest.Dial(t, srv.Addr)
	tel.Expect("What's your name?")
	tel.Send("carol")
	waitLine(t, tel, "password for carol:")
	tel.Send("correct horse battery")
	waitLine(t, tel, "you are also connected from")
	tel.Send("/join #go")
	right.until(":carol!u@hubbub JOIN #go")
	right.until(" 353 carol = #go :@carol") // with the JOIN, before the client says anything
	tel.Send("from telnet")
	right.until(":carol!u@hubbub PRIVMSG #go :from telnet")

	// PASS, for clients without SASL: the nick's account password. This device comes in
	// on an account in two channels.
	pass := dialIRC(t, srv.IRC)
	pass.Send("PASS :correct horse battery")
	pass.Send("NICK carol")
	pass.Send("USER carol 0 * :c")
	pass.until(" 001 carol ")
	joins := map[string]bool{}
	for _, line := range pass.sync() {
		if strings.HasPrefix(line, ":carol!u@hubbub JOIN ") {
			joins[strings.TrimPrefix(line, ":carol!u@hubbub JOIN ")] = true
		}
	}
	if !joins["#lobby"] || !joins["#go"] || len(joins) != 2 {
		t.Errorf("joins told: %v, want #lobby and #go", joins)
	}
	badPass := &ircUser{Client: chattest.DialFrom(t, "127.0.0.3", srv.IRC), t: t}
	badPass.Send("PASS :not it at all")
	badPass.Send("NICK carol")
	badPass.Send("USER carol 0 * :c")
	badPass.until(" 464 * :wrong account name or password")
	badPass.ExpectClosed()
}

// JOIN 0 leaves every channel but the lobby, each with its PART, and the channels can be
// joined again (no PART was sent and the client could not rejoin; found in review).
func TestJoinZero(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	alice.joinLines("#go")
	alice.joinLines("#rust")
	alice.sync()
	alice.Send("JOIN 0")
	alice.until(":alice!u@hubbub PART #go")
	alice.until(":alice!u@hubbub PART #rust")
	for _, l := range alice.sync() {
		if strings.Contains(l, "PART #lobby") {
			t.Errorf("JOIN 0 parted the lobby: %q", l)
		}
	}
	alice.Send("JOIN #go")
	alice.until(":alice!u@hubbub JOIN #go")
	alice.Send("PRIVMSG #go :back")
	for _, l := range alice.sync() {
		if strings.Contains(l, " 403 ") || strings.Contains(l, " 442 ") {
			t.Errorf("a line to #go after joining it again: %q", l)
		}
	}
}

// A client refused at registration for a reason that is not its nick (its account connected
// from the most devices allowed) is told why with ERROR and let go: no numeric it waits for
// fits (it was a 482 with the nick as the channel; found in review).
func TestRegistrationRefusedNotForTheNick(t *testing.T) {
	srv := accountsChat(t, func(cfg *chat.Config) { cfg.MaxSessionsPerAccount = 1 })
	login := func() *ircUser {
		u := dialIRC(t, srv.IRC)
		u.Send("PASS :correct horse battery")
		u.Send("NICK carol")
		u.Send("USER carol 0 * :c")
		return u
	}
	first := login()
	first.until(" 001 carol ")
	second := login()
	second.until("ERROR :Closing link: carol is connected from 1 devices already")
	second.ExpectClosed()
}
