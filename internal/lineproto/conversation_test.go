package lineproto_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testConfig is the default configuration without the line rate, so tests run at full speed.
func testConfig() lineproto.Config {
	cfg := lineproto.DefaultConfig()
	cfg.LineRate = 0
	return cfg
}

func TestOriginalConversation(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	bob.Send("hello")
	alice.Expect("<bob> hello")
	alice.Send("hi bob")
	bob.Expect("<alice> hi bob") // bob got no copy of his own line: this is his next line

	bob.Conn.Close()
	alice.Expect("bob has left the channel.")
}

func TestNameTakenIgnoresCase(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	chattest.Join(t, srv.Addr, "Alice")
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	for _, name := range []string{"alice", "ALICE", "ａｌｉｃｅ"} {
		c.Send(name)
		c.Expect("name taken, please choose other", "What's your name?")
	}
	c.Send("alice2")
	c.Expect("Welcome, alice2!")
}

func TestBadNamesAskAgain(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	tests := []struct{ name, reason string }{
		{"al ice", "*** names cannot contain spaces, please choose other"},
		{strings.Repeat("x", 33), "*** names are at most 32 characters, please choose other"},
		{"\x1b[31mred", "*** names cannot contain control characters, please choose other"},
		{"ev\u202eil", "*** names cannot contain control characters, please choose other"},
		{"bad\xfeutf8", "*** names must be valid UTF-8, please choose other"},
		{"☃snow", "*** names may use letters, digits and punctuation only, please choose other"},
		{"*star", "*** names must start with a letter, a digit or _, please choose other"},
		{"//slash", "*** names must start with a letter, a digit or _, please choose other"},
	}
	for _, tt := range tests {
		c.Send(tt.name)
		c.Expect(tt.reason, "What's your name?")
	}
	c.Send("") // an Enter typed too soon is asked again
	c.Expect("What's your name?")
	c.Send("  ok_name  ")
	c.Expect("Welcome, ok_name!")
}

func TestLineEndsAndTelnetBytes(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Dial(t, srv.Addr)
	bob.Expect("What's your name?")
	bob.Write("\xff\xfd\x03\xff\xfb\x18bob\r\x00")      // telnet negotiation, then a name ended by CR NUL
	bob.Expect("\xff\xfc\x03\xff\xfe\x18Welcome, bob!") // refused: WONT SUPPRESS-GO-AHEAD, DONT TERMINAL-TYPE
	alice.Expect("bob has joined the channel")

	tests := []struct{ raw, want string }{
		{"plain nc line\n", "<bob> plain nc line"},
		{"telnet line\r\n", "<bob> telnet line"},
		{"cr nul line\r\x00", "<bob> cr nul line"},
		{"\xff\xfa\x18\x00xterm\xff\xf0sub skipped\n", "<bob> sub skipped"},
		{"a\xff\xf1b\xff\xfb\x01c\n", "<bob> abc"},
		{"helo\x08lo\n", "<bob> hello"},
		{"typo\x7f\x7f\x7f\x7fright\n", "<bob> right"},
		{"caf\u00e9\x08e\n", "<bob> cafe"},
		{"\x1b[2J\x1b[Hclear \x1b]0;title\x07screen\n", "<bob> clear screen"},
		{"evil\r", "<bob> evil"}, // a lone CR ends a line: it cannot overwrite one
		{"good\n", "<bob> good"},
		{"abc\u202etxt.exe\n", "<bob> abctxt.exe"},
		{"\u2066iso\u2069late\n", "<bob> isolate"},
		{"c1 \u009b31mcsi\n", "<bob> c1 csi"},
		{"bad \xfe\xc3( utf8\n", "<bob> bad \ufffd\ufffd( utf8"},
		{"bell\x07 and nul\x00\n", "<bob> bell and nul"},
		{"//slash\n", "<bob> /slash"},
	}
	for _, tt := range tests {
		bob.Write(tt.raw)
		alice.Expect(tt.want)
	}
}

func TestEmptyLinesIgnored(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	bob.Write("\r\n\n   \r\n\x1b[0m\nafter\n")
	alice.Expect("<bob> after")
}

func TestLongLine(t *testing.T) {
	cfg := testConfig()
	cfg.MaxLine = 100
	srv := chattest.Start(t, cfg)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	bob.Send(strings.Repeat("x", 100))
	alice.Expect("<bob> " + strings.Repeat("x", 100))

	// A megabyte without a line end: discarded as it arrives, reported once.
	bob.Write(strings.Repeat("y", 1<<20))
	bob.Expect("*** line too long (max 100 bytes)")
	bob.Send("tail of the long line")
	bob.Send("next")
	alice.Expect("<bob> next")
	bob.ExpectSilence(50 * time.Millisecond)
}

func TestCommands(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	bob.Send("/nosuch thing")
	bob.Expect("*** unknown command /nosuch, try /help")
	bob.Send("/\x1b[31mx")
	bob.Expect("*** unknown command /x, try /help")
	bob.Send("/HeLp")
	bob.Expect("*** commands (/help COMMAND for examples):")
	width := 0 // the longest usage's: every explanation starts in one column
	for _, c := range chat.Commands() {
		width = max(width, len(c.Usage))
	}
	for _, c := range chat.Commands() {
		bob.Expect(fmt.Sprintf("***   %-*s  %s", width, c.Usage, c.About))
	}
	bob.Expect(fmt.Sprintf("***   %-*s  %s", width, "//TEXT", "say a line that starts with /"))
	bob.Send("/help MSG")
	bob.Expect("*** /msg NAME TEXT: send a private message", "***   /msg bob see you at 5      only bob sees it, as [PM from YOURNAME]")
	bob.Send("/help /who")
	bob.Expect("*** /who [ROOM]: list who is in a room",
		"***   /who go       lists who is in #go, marking the owner, operators and who is away")
	bob.Send("/help frobnicate")
	bob.Expect("*** no command /frobnicate, try /help")
	bob.Send("/QUIT gone \x1b[5mfishing")
	bob.Expect("*** goodbye")
	bob.ExpectClosed()
	alice.Expect("bob has left the channel. (quit: gone fishing)")

	carol := chattest.Dial(t, srv.Addr)
	carol.Expect("What's your name?")
	carol.Send("/quit")
	carol.Expect("*** goodbye")
	carol.ExpectClosed()
	alice.ExpectSilence(50 * time.Millisecond)
}

// TestNameAndQuitInOneRead sends a name and /quit together and then never closes: the server
// still closes the connection once its linger time is up.
func TestNameAndQuitInOneRead(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	c.Write("quick\r\n/quit\r\n")
	c.Expect("Welcome, quick!", "*** goodbye")
	srv.Logs.WaitFor(t, "connection closed", "name=quick", "reason=quit")
}

func TestRegisterTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.RegisterTimeout = 100 * time.Millisecond
	srv := chattest.Start(t, cfg)
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	c.Expect("*** timed out waiting for your name, goodbye")
	c.ExpectClosed()
	srv.Logs.WaitFor(t, "connection closed", "reason=\"register timeout\"")

	// A user who registered in time is not timed out.
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.ExpectSilence(300 * time.Millisecond)
}

func TestConnectionLimits(t *testing.T) {
	limiter := accept.NewLimiter(accept.Limits{MaxConns: 6, MaxConnsPerIP: 2,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}}, nil)
	srv := chattest.StartLimited(t, testConfig(), limiter)

	a := chattest.Dial(t, srv.Addr)
	a.Expect("What's your name?")
	b := chattest.Dial(t, srv.Addr)
	b.Expect("What's your name?")
	refused := chattest.Dial(t, srv.Addr)
	refused.Expect("*** too many connections from your address (max 2)")
	refused.ExpectClosed()

	// Another loopback address has its own allowance, an exempt one has no per-address limit,
	// and the total is 6.
	other := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	other.Expect("What's your name?")
	for range 3 {
		exempt := chattest.DialFrom(t, "127.0.0.9", srv.Addr)
		exempt.Expect("What's your name?")
	}
	full := chattest.DialFrom(t, "127.0.0.3", srv.Addr)
	full.Expect("*** server full (6 connections), try again later")
	full.ExpectClosed()

	// Limits count open connections: closing one makes room.
	a.Conn.Close()
	srv.Logs.WaitFor(t, "connection closed", "client closed")
	again := chattest.Dial(t, srv.Addr)
	again.Expect("What's your name?")
}

func TestLineRateSlowsWithoutDropping(t *testing.T) {
	cfg := testConfig()
	cfg.LineRate = 50
	cfg.LineBurst = 5
	srv := chattest.Start(t, cfg)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	const lines = 30
	var flood strings.Builder
	for i := range lines {
		flood.WriteString("line " + string(rune('A'+i)) + "\n")
	}
	start := time.Now()
	bob.Write(flood.String())
	for i := range lines {
		alice.Expect("<bob> line " + string(rune('A'+i)))
	}
	// 30 lines with a burst of 5 at 50 lines/s cannot arrive in less than 25/50 s. This is a
	// floor set by the limiter, not a measure of speed.
	if elapsed := time.Since(start); elapsed < 450*time.Millisecond {
		t.Errorf("%d lines went through in %v; the line rate did not slow them", lines, elapsed)
	}
}

// TestTelnetCommands sends, over the wire, what telnet sends for Ctrl-C and its other
// commands: each gets its answer and the session goes on.
func TestTelnetCommands(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	bob.Write("half a li\xff\xf4\xff\xfd\x06") // Ctrl-C: IP, DO TIMING-MARK
	bob.Write("after\r\n")
	alice.Expect("<bob> after")
	bob.Write("\xff\xf6") // AYT
	bob.Expect("\xff\xfb\x06*** yes, the server is here")
	bob.Write("\xff\xfd\x01\xff\xfd\x01\xff\xfb\x18\xff\xf3x\r\n") // DO ECHO twice, WILL TERMINAL-TYPE, BRK
	alice.Expect("<bob> x")
	alice.Send("hi")
	bob.Expect("\xff\xfc\x01\xff\xfe\x18<alice> hi") // refused once each
}
