package conversation_test

import (
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// unkept is what a user is told on sending its first private message.
const unkept = "*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history"

func TestPrivateMessages(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice, bob, carol := joinThree(t, srv.Addr)

	alice.Send("/msg BOB psst \x1b[2Jhere")
	alice.Expect("[PM to bob] psst here", unkept)
	bob.Expect("[PM from alice] psst here")
	bob.Send("/reply what?")
	bob.Expect("[PM to alice] what?", unkept)
	alice.Expect("[PM from bob] what?")
	carol.ExpectSilence(quiet) // private means private

	bob.Send("/away lunch")
	bob.Expect("*** you are away: lunch")
	alice.Send("/msg bob still there?")
	alice.Expect("[PM to bob] still there?", "*** bob is away: lunch")
	bob.Expect("[PM from alice] still there?")
	carol.Send("/who")
	carol.Expect("*** #lobby (3): alice, bob (away), carol", "***   bob is away: lunch")
	bob.Send("/away")
	bob.Expect("*** you are no longer away")

	for _, tt := range []struct{ send, want string }{
		{"/msg nobody hello", "*** no one called nobody is online"},
		{"/msg carol", "*** usage: /msg NAME TEXT"},
		{"/msg alice hi", "[PM to alice] hi"},
		{"", unkept},
		{"/reply", "*** usage: /reply TEXT"},
	} {
		if tt.send != "" {
			carol.Send(tt.send)
		}
		carol.Expect(tt.want)
	}
	carol.Send("/msg Carol me")
	carol.Expect("*** that is you")
	carol.Send("/reply x")
	carol.Expect("*** no one has sent you a private message")
}

func TestMeNickAndWhois(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "hunter2"
	srv, clk := chattest.StartOnClock(t, cfg)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	alice.Send("/me waves")
	bob.Expect("* alice waves")
	alice.Send("/me")
	alice.Expect("*** usage: /me ACTION")

	alice.Send("/nick Alicia")
	alice.Expect("alice is now known as Alicia")
	bob.Expect("alice is now known as Alicia")
	alice.Send("hello")
	bob.Expect("<Alicia> hello")
	bob.Send("/msg alicia hi")
	bob.Expect("[PM to Alicia] hi", unkept)
	alice.Expect("[PM from bob] hi")
	for _, tt := range []struct{ send, want string }{
		{"/nick bob", "*** bob is taken"},
		{"/nick b0B", "*** b0B is taken"}, // looks like bob
		{"/nick Server", "*** that name is reserved"},
		{"/nick a b", "*** usage: /nick NAME"},
		{"/nick ☃", "*** names may use letters, digits and punctuation only"},
	} {
		alice.Send(tt.send)
		alice.Expect(tt.want)
	}

	clk.Add(90 * time.Second)
	bob.Send("/whois ALICIA")
	bob.Expect("*** Alicia: in #lobby, online 1m30s, a guest")
	alice.Send("/oper hunter2")
	alice.Expect("*** you are now an operator")
	alice.Send("/away brb")
	alice.Expect("*** you are away: brb")
	alice.Send("/whois bob")
	alice.Expect("*** bob: in #lobby, online 1m30s, a guest, from 127.0.0.1") // operators see the address
	bob.Send("/whois alicia")
	bob.Expect("*** Alicia: in #lobby, online 1m30s, a guest, operator", "*** Alicia is away: brb")
	bob.Send("/whois nobody")
	bob.Expect("*** no one called nobody is online")
}

func TestIgnore(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice, bob, carol := joinThree(t, srv.Addr)

	carol.Send("/ignore")
	carol.Expect("*** you ignore no one")
	carol.Send("/ignore alice")
	carol.Expect("*** ignoring alice: you will not see their lines or messages")
	alice.Send("anyone?")
	bob.Expect("<alice> anyone?")
	alice.Send("/me sighs")
	bob.Expect("* alice sighs")
	alice.Send("/msg carol hello?")
	alice.Expect("[PM to carol] hello?", unkept) // alice is not told she is ignored
	bob.Send("bob here")
	carol.Expect("<bob> bob here") // the first line carol gets is bob's
	carol.Send("/ignore")
	carol.Expect("*** you ignore: alice")
	carol.Send("/ignore carol")
	carol.Expect("*** you cannot ignore yourself")
	carol.Send("/unignore alice")
	carol.Expect("*** no longer ignoring alice")
	carol.Send("/unignore alice")
	carol.Expect("*** you do not ignore alice")
	alice.Send("now?")
	carol.Expect("<alice> now?")
}

func TestRepeatedLinesCollapse(t *testing.T) {
	srv, clk := chattest.StartOnClock(t, chat.DefaultConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	for range 5 {
		alice.Send("buy now")
	}
	alice.Send("sorry")
	bob.Expect("<alice> buy now", "<alice> (previous line repeated 4 times)", "<alice> sorry")
	alice.Send("ok")
	alice.Send("ok")
	alice.Send("/me nods")
	bob.Expect("<alice> ok", "<alice> (previous line repeated 1 time)", "* alice nods")
	// The same line again after a while is a new line.
	alice.Send("tick")
	bob.Expect("<alice> tick")
	clk.Add(time.Minute)
	alice.Send("tick")
	bob.Expect("<alice> tick")
}

// TestWords holds the answers that used to say the wrong thing or too little.
func TestWords(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	for _, tt := range []struct {
		send string
		want []string
	}{
		{"/away", []string{"*** you are not away: /away REASON marks you away"}},
		{"/join #", []string{"*** a room name needs at least one character after the #"}},
		{"/join  # ", []string{"*** a room name needs at least one character after the #"}},
		{"/who #", []string{"*** a room name needs at least one character after the #"}},
		{"/part #", []string{"*** a room name needs at least one character after the #"}},
		{"/help join", []string{"*** /join ROOM: join a room (made if new) and talk there",
			"***   /join go      joins #go; if nobody is there, you make it and own it",
			"***   /join a room you are in to talk there again"}},
		{"/help BAN", []string{"*** /ban [NAME|ADDRESS [DURATION]]: refuse a name or address; list bans (operator)",
			"***   /ban bob 1h   refuses the name bob and its look-alikes for an hour",
			"***   /ban 203.0.113.0/24    refuses an address or network (IPv6: /ban 2001:db8::/48) until /unban",
			"***   /ban          lists the bans"}},
	} {
		alice.Send(tt.send)
		alice.Expect(tt.want...)
	}

	// /help: every explanation starts in one column, /ban's too.
	alice.Send("/help")
	alice.Expect("*** commands (/help COMMAND for examples):")
	column := -1
	rows := append(chat.Commands(), chat.CommandHelp{Usage: "//TEXT", About: "say a line that starts with /"})
	for _, c := range rows {
		line := alice.ReadLine()
		at := strings.LastIndex(line, "  "+c.About) + 2
		if !strings.HasPrefix(line, "***   "+c.Usage+" ") || at < 2 {
			t.Fatalf("/help line %q, want %s: %s", line, c.Usage, c.About)
		}
		if column < 0 {
			column = at
		}
		if at != column {
			t.Errorf("/help line %q explains from column %d, the first from %d", line, at, column)
		}
	}
}
