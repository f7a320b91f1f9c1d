package conversation_test

import (
	"fmt"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// TestStrayKeysBeforeCommands sends commands after what a terminal's Up-arrow (ESC [ A or
// ESC O A), Ctrl-L and spaces put in front of them: each line runs as the command it reads as
// once cleaned, or is refused, and none reaches the other user or the history as chat.
func TestStrayKeysBeforeCommands(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "s3cret"
	srv, _, _ := startWithHistory(t, cfg, chattest.StoreConfig(t))
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	const refused = "*** not sent, it looks like the command /%s: type it again at the start of the line, or start the line with // to say it"
	for _, tt := range []struct {
		raw  string
		want string // what alice is answered
	}{
		{"\x1b[A/kick bob\r\n", "*** only operators and the owner of a room kick, and only operators from #lobby"},
		{"\x0c/history\r\n", "*** no earlier history"},
		{"\x1b[A/whois bob\n", "*** bob: in #lobby, online 0s, a guest"},
		{"  /whois bob\r\n", fmt.Sprintf(refused, "whois")},
		{"\x1bOA/oper s3cret\r\n", fmt.Sprintf(refused, "oper")},
		{"   /oper s3cret\r\n", fmt.Sprintf(refused, "oper")},
		{"please /oper s3cret\r\n", fmt.Sprintf(refused, "oper")},
		{"x/oper wrong\r\n", fmt.Sprintf(refused, "oper")},
		{"AAAAAAAAA/oper wrong\r\n", fmt.Sprintf(refused, "oper")},
		{"A/OPER\u00a0wrong\r\n", fmt.Sprintf(refused, "oper")},
		{"\x0c\x0c/me waves\r\n", ""}, // an action, as /me: bob sees it as one below
		{"\x1b[A\x1b[A/oper s3cret\r\n", "*** you are now an operator"},
	} {
		alice.Write(tt.raw)
		if tt.want != "" {
			alice.Expect(tt.want)
		}
	}
	alice.Send("\u2800\u2800 \u00a0\u3000") // shows as nothing: not said
	alice.Send("//oper is how you ask")     // said on purpose
	alice.Send("done")
	bob.Expect("* alice waves", "<alice> /oper is how you ask", "<alice> done") // and nothing else

	carol := chattest.Join(t, srv.Addr, "carol")
	carol.Expect("[2026-11-25 12:00] * alice waves", "[2026-11-25 12:00] <alice> /oper is how you ask",
		"[2026-11-25 12:00] <alice> done", "*** end of history")
}

// TestNamePromptCommands: at the name prompt too, a command after stray keys runs, a line
// that looks like a mistyped one is refused, and an empty Enter is asked again.
func TestNamePromptCommands(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	c := chattest.Dial(t, srv.Addr)
	c.Expect("What's your name?")
	c.Send("")
	c.Expect("What's your name?")
	c.Send("A/quit")
	c.Expect("*** not sent, it looks like the command /quit: type it again at the start of the line, or start the line with // to say it",
		"What's your name?")
	c.Write("\x1b[A/quit bye\r\n")
	c.Expect("*** goodbye")
	c.ExpectClosed()
}
