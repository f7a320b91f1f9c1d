package conversation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/metrics"
)

const password = "correct horse"

func TestOperator(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = password
	srv, clk := chattest.StartOnClock(t, cfg)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	bob.Register("bob")
	carol := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	carol.Register("carol")
	alice.Expect("bob has joined the channel", "carol has joined the channel")
	bob.Expect("carol has joined the channel")

	// Only with the password, which is never logged.
	for _, cmd := range []string{"/mute carol", "/kick carol", "/ban carol", "/unban carol", "/unmute carol"} {
		bob.Send(cmd)
		if cmd == "/kick carol" {
			bob.Expect("*** only operators and the owner of a room kick, and only operators from #lobby")
		} else {
			bob.Expect("*** only operators can do that: /oper PASSWORD")
		}
	}
	alice.Send("/oper guess")
	alice.Expect("*** wrong password: wait 1s before trying again")
	clk.Add(time.Second)
	alice.Send("/oper " + password)
	alice.Expect("*** you are now an operator")
	srv.Logs.WaitFor(t, "operator", "name=alice")
	if strings.Contains(srv.Logs.String(), "horse") || strings.Contains(srv.Logs.String(), "guess") {
		t.Errorf("the log shows a password:\n%s", srv.Logs)
	}
	bob.Send("/who")
	bob.Expect("*** #lobby (3): alice (operator), bob, carol")

	// Mute: lines, actions and private messages are refused until the time is up.
	alice.Send("/mute carol 5m")
	alice.Expect("*** muted carol for 5m0s")
	carol.Expect("*** an operator muted you for 5m0s")
	carol.Send("let me speak")
	carol.Expect("*** you are muted for another 5m0s")
	carol.Send("/msg bob psst") // refused too, and she was told a moment ago
	carol.ExpectSilence(quiet)
	clk.Add(2 * time.Minute)
	carol.Send("/me rages")
	carol.Expect("*** you are muted for another 3m0s")
	clk.Add(3 * time.Minute)
	carol.Send("free again")
	bob.Expect("<carol> free again") // bob heard nothing before it
	alice.Expect("<carol> free again")
	alice.Send("/mute carol")
	alice.Expect("*** muted carol for 10m0s")
	carol.Expect("*** an operator muted you for 10m0s")
	alice.Send("/unmute carol")
	alice.Expect("*** unmuted carol")
	carol.Expect("*** you may talk again")
	alice.Send("/mute carol forever")
	alice.Expect("*** forever is not a duration: say how long with a unit, such as 30s, 10m or 2h (at most a year)")
	alice.Send("/ban carol 10")
	alice.Expect("*** 10 is not a duration: say how long with a unit, such as 30s, 10m or 2h (at most a year)")
	alice.Send("/mute")
	alice.Expect("*** usage: /mute NAME [DURATION]")

	// Kick from the lobby: out of the chat.
	alice.Send("/kick carol enough")
	alice.Expect("carol has left the channel. (kicked by alice: enough)")
	carol.Expect("*** you were kicked by alice: enough")
	carol.ExpectClosed()
	bob.Expect("carol has left the channel. (kicked by alice: enough)")

	// Ban a name: its holder is disconnected, and nobody can take it (or a look-alike).
	alice.Send("/ban bob")
	alice.Expect("*** banned the name bob until /unban or the server restarts")
	bob.Expect("*** you are banned from this server")
	bob.ExpectClosed()
	alice.Expect("bob has left the channel. (banned)")
	again := chattest.Dial(t, srv.Addr)
	again.Expect("What's your name?")
	again.Send("B0B")
	again.Expect("*** that name is banned, please choose other", "What's your name?")

	// Ban an address: refused at once, with a reason; others are not.
	alice.Send("/ban 127.0.0.3 1h")
	alice.Expect("*** banned 127.0.0.3/32 for 1h0m0s")
	refused := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	refused.Expect("*** you are banned from this server")
	refused.ExpectClosed()
	alice.Send("/ban")
	alice.Expect("*** 2 bans:", "***   name bob until lifted", "***   address 127.0.0.3/32 for 1h0m0s more")
	alice.Send("/ban 127.0.0.1")
	alice.Expect("*** that would ban you")
	clk.Add(time.Hour)
	later := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	later.Register("carol") // the ban ran out
	alice.Expect("carol has joined the channel")
	alice.Send("/unban B0B")
	alice.Expect("*** unbanned the name bob")
	again.Send("bob")
	again.Expect("Welcome, bob!")
	alice.Expect("bob has joined the channel")
	alice.Send("/unban 10.0.0.0/8")
	alice.Expect("*** 10.0.0.0/8 is not banned")
}

func TestOperPasswordLimits(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.Send("/oper anything")
	alice.Expect("*** this server has no operator password")
}

// TestOperGuessing: after a wrong password an address waits, twice as long each time, and
// reconnecting does not help; another address is not held up by it; the server checks only a
// few passwords a second in all; failures are counted in a metric and logged in aggregate.
func TestOperGuessing(t *testing.T) {
	m := metrics.New()
	cfg := chat.DefaultConfig()
	cfg.OperPassword = password
	cfg.Observer = m
	srv, clk := chattest.StartOnClock(t, cfg)
	mallory := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	mallory.Register("mallory")

	mallory.Send("/oper guess1")
	mallory.Expect("*** wrong password: wait 1s before trying again")
	mallory.Send("/oper " + password)
	mallory.Expect("*** not checked: wait 1s before trying /oper again")
	mallory.Send("/quit")
	mallory.Expect("*** goodbye")
	mallory.ExpectClosed()
	again := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	again.Register("mallory")
	again.Send("/oper " + password) // a new connection waits all the same
	again.Expect("*** not checked: wait 1s before trying /oper again")
	clk.Add(time.Second)
	again.Send("/oper guess2")
	again.Expect("*** wrong password: wait 2s before trying again")
	clk.Add(time.Second)
	again.Send("/oper guess3")
	again.Expect("*** not checked: wait 1s before trying /oper again")

	// Another address is not held up.
	alice := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	alice.Register("alice")
	alice.Send("/oper " + password)
	alice.Expect("*** you are now an operator")

	// The server checks at most operCheckBurst (5) passwords at once, then two a second:
	// alice's was the first of five, so four more from fresh addresses take the rest, and the
	// next, from yet another, is not checked.
	for i := range 4 {
		c := chattest.DialFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), srv.Addr)
		c.Register(fmt.Sprintf("tester%d", i))
		c.Send("/oper wrong")
		c.Expect("*** wrong password: wait 1s before trying again")
	}
	dave := chattest.DialFrom(t, "127.0.0.6", srv.Addr)
	dave.Register("dave")
	dave.Send("/oper " + password)
	dave.Expect("*** not checked, too many operator logins at once: try again in 1s")
	clk.Add(time.Second)
	dave.Send("/oper " + password)
	dave.Expect("*** you are now an operator")

	got := counters(t, m, "hubbub_oper_failures_total")
	want := map[string]float64{"wrong_password": 6, "address_waiting": 3, "server_busy": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hubbub_oper_failures_total = %v, want %v", got, want)
	}

	// One log line for the first failure, the rest together a minute later; never a
	// password, never a line per try.
	srv.Logs.WaitFor(t, "failed operator logins", "wrong_passwords=1", "refused_unchecked=0", "addresses=1")
	clk.Add(time.Minute)
	back := chattest.DialFrom(t, "127.0.0.10", srv.Addr) // tester0's address
	back.Register("tester9")
	back.Send("/oper again")
	back.Expect("*** wrong password: wait 2s before trying again")
	srv.Logs.WaitFor(t, "failed operator logins", "wrong_passwords=6", "refused_unchecked=4", "addresses=6")
	logs := srv.Logs.String()
	if n := strings.Count(logs, "failed operator logins"); n != 2 {
		t.Errorf("%d log lines of failed operator logins, want 2:\n%s", n, logs)
	}
	if strings.Contains(logs, "guess") || strings.Contains(logs, "horse") {
		t.Errorf("the log shows a password:\n%s", logs)
	}
}

func TestRoomOwnerKicks(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice, bob, carol := joinThree(t, srv.Addr)
	alice.Send("/join go")
	alice.Expect("*** you made #go and own it: plain lines now go there")
	bob.Send("/join go")
	bob.Expect("*** you joined #go (2 here): plain lines now go there")
	carol.Send("/join go")
	carol.Expect("*** you joined #go (3 here): plain lines now go there")
	alice.Expect("bob has joined #go", "carol has joined #go")
	bob.Expect("carol has joined #go")

	carol.Send("/kick bob")
	carol.Expect("*** only operators and the owner of a room kick, and only operators from #lobby")
	alice.Send("/kick bob off topic")
	alice.Expect("bob has left #go. (kicked by alice: off topic)")
	bob.Expect("*** now talking in #lobby", "*** you were kicked from #go by alice: off topic")
	carol.Expect("bob has left #go. (kicked by alice: off topic)")
	bob.Send("still here")
	alice.Expect("[#lobby] <bob> still here") // kicked from the room, not from the chat
	alice.Send("/kick bob")
	alice.Expect("*** bob is not in #go")
	alice.Send("/join lobby")
	alice.Expect("*** now talking in #lobby")
	alice.Send("/kick bob") // the owner of #go is nobody in the lobby
	alice.Expect("*** only operators and the owner of a room kick, and only operators from #lobby")
}

func TestMOTD(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.MOTD = []string{"Be kind.", "", "Rules: /help"}
	srv, _ := chattest.StartOnClock(t, cfg)
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	c.Send("alice")
	c.Expect("Welcome, alice!", "*** Be kind.", "*** ", "*** Rules: /help")
}

// TestFloodMutes has a user send far faster than the line rate for longer than FloodAfter:
// it is muted, told so, and stays connected.
func TestFloodMutes(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 50
	line.LineBurst = 1
	line.FloodAfter = 100 * time.Millisecond
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	alice := chattest.Join(t, srv.Addr, "alice")
	flood := chattest.Join(t, srv.Addr, "flood")
	alice.Expect("flood has joined the channel")

	const lines = 40 // 0.8 s at 50 a second
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "%d\n", i)
	}
	flood.Write(b.String())
	flood.Expect("*** you are sending too fast: muted for 1m0s")
	flood.Send("/who")
	for {
		line := flood.ReadLine()
		if strings.HasPrefix(line, "*** #lobby (2)") {
			break // still connected, and read at the line rate
		}
		if !strings.HasPrefix(line, "*** you are muted for another") {
			t.Fatalf("flooder got %q", line)
		}
	}
	got := 0
	for {
		line, err := alice.TryReadLine(quiet)
		if err != nil {
			break
		}
		if line != fmt.Sprintf("<flood> %d", got) {
			t.Fatalf("alice got %q, want line %d", line, got)
		}
		got++
	}
	if got == 0 || got >= lines {
		t.Errorf("alice got %d of the flooder's %d lines, want some but not all", got, lines)
	}
}

// TestMutedRefusalsCollapse: a muted user who goes on sending is told once, then again only
// after a minute or when the mute changes.
func TestMutedRefusalsCollapse(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = password
	srv, clk := chattest.StartOnClock(t, cfg)
	alice, bob, carol := joinThree(t, srv.Addr)
	alice.Send("/oper " + password)
	alice.Expect("*** you are now an operator")
	alice.Send("/mute carol")
	alice.Expect("*** muted carol for 10m0s")
	carol.Expect("*** an operator muted you for 10m0s")

	var b strings.Builder
	for i := range 73 {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	b.WriteString("/me shouts\r\n/msg bob psst\r\n/who\r\n")
	carol.Write(b.String())
	carol.Expect("*** you are muted for another 10m0s", "*** #lobby (3): alice (operator), bob, carol")

	clk.Add(time.Minute)
	carol.Send("still muted?")
	carol.Expect("*** you are muted for another 9m0s")
	alice.Send("/mute carol 2m") // a new mute is told again
	alice.Expect("*** muted carol for 2m0s")
	carol.Expect("*** an operator muted you for 2m0s")
	carol.Send("please")
	carol.Expect("*** you are muted for another 2m0s")
	bob.Send("/who")
	bob.Expect("*** #lobby (3): alice (operator), bob, carol") // nothing of carol's reached bob
}

// TestOperatorsAreNotFloodMuted: an operator sending faster than the line rate for longer
// than FloodAfter is read more slowly, never muted.
func TestOperatorsAreNotFloodMuted(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 50
	line.LineBurst = 1
	line.FloodAfter = 100 * time.Millisecond
	cfg := chat.DefaultConfig()
	cfg.OperPassword = password
	srv := chattest.StartChat(t, line, cfg, nil)
	alice := chattest.Join(t, srv.Addr, "alice")
	oper := chattest.Join(t, srv.Addr, "opal")
	alice.Expect("opal has joined the channel")
	oper.Send("/oper " + password)
	oper.Expect("*** you are now an operator")

	const lines = 40 // 0.8 s at 50 a second
	var b strings.Builder
	for i := range lines {
		fmt.Fprintf(&b, "%d\n", i)
	}
	oper.Write(b.String() + "/who\n")
	oper.Expect("*** #lobby (2): alice, opal (operator)") // no mute notice before it
	for i := range lines {
		alice.Expect(fmt.Sprintf("<opal> %d", i))
	}
}

// TestBanAddressRules: what looks like an address or a network is one or is refused, never
// banned as a name; an IPv4-mapped IPv6 network bans the IPv4 clients it stands for.
func TestBanAddressRules(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = password
	srv, _ := chattest.StartOnClock(t, cfg)
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.Send("/oper " + password)
	alice.Expect("*** you are now an operator")
	bob := chattest.DialFrom(t, "127.0.0.5", srv.Addr)
	bob.Register("bob")
	alice.Expect("bob has joined the channel")

	const hint = " is not an address or a network: try 203.0.113.7, 203.0.113.0/24 or 2001:db8::/48"
	for _, cmd := range []string{"1.2.3.4/33", "999.1.1.1", "1.2.3", "10.0.0.0/x", "fe80::1%eth0", "::ffff:1.2.3.4/129", "bob/", "2001:db8::g"} {
		alice.Send("/ban " + cmd)
		alice.Expect("*** " + cmd + hint)
		alice.Send("/unban " + cmd)
		alice.Expect("*** " + cmd + hint)
	}
	alice.Send("/ban")
	alice.Expect("*** no bans") // none of those became a name ban

	alice.Send("/ban 1234") // digits alone are a name
	alice.Expect("*** banned the name 1234 until /unban or the server restarts")
	alice.Send("/ban ::ffff:127.0.0.0/104")
	alice.Expect("*** that would ban you") // 127.0.0.0/8
	alice.Send("/ban ::ffff:127.0.0.4/126")
	alice.Expect("*** banned 127.0.0.4/30 until /unban or the server restarts", "bob has left the channel. (banned)")
	bob.Expect("*** you are banned from this server")
	bob.ExpectClosed()
	again := chattest.DialFrom(t, "127.0.0.6", srv.Addr)
	again.Expect("*** you are banned from this server")
	again.ExpectClosed()
	alice.Send("/ban")
	alice.Expect("*** 2 bans:", "***   name 1234 until lifted", "***   address 127.0.0.4/30 until lifted")
	alice.Send("/unban ::FFFF:127.0.0.4/126")
	alice.Expect("*** unbanned 127.0.0.4/30")
	later := chattest.DialFrom(t, "127.0.0.6", srv.Addr)
	later.Register("bob")
}
