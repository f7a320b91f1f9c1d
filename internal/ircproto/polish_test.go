package ircproto_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// A user whose connection ends without a reason of their own is told to IRC clients with the
// reason the IRC door gives its own clients that just go: never an empty QUIT (irssi: "has
// quit []"). A reason the user gave is kept.
func TestQuitReasonNeverEmpty(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	tests := []struct {
		name, quit, want string
	}{
		{"telnet closes", "", ":bob!u@hubbub QUIT :connection closed"},
		// The chat tells a bare /quit as it tells a closed connection (the line door shows both as
		// "bob has left the channel."), and so does this door.
		{"telnet quits", "/quit", ":bob!u@hubbub QUIT :connection closed"},
		{"telnet quits with a reason", "/quit lunch", ":bob!u@hubbub QUIT :quit: lunch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bob := chattest.Join(t, srv.Addr, "bob")
			alice.until(":bob!u@hubbub JOIN #lobby")
			if tt.quit == "" {
				bob.Conn.Close()
			} else {
				bob.Send(tt.quit)
			}
			if got := alice.until(" QUIT "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("IRC client closes", func(t *testing.T) {
		carol := registerIRC(t, srv.IRC, "carol")
		alice.until(":carol!u@hubbub JOIN #lobby")
		carol.Conn.Close()
		if got := alice.until(" QUIT "); got != ":carol!u@hubbub QUIT :connection closed" {
			t.Errorf("got %q", got)
		}
	})
}

// Without batch, where a channel's replay ends is a NOTICE to that channel: one to the nick
// shows in a client's status window once per channel joined, not saying which.
func TestEndOfHistoryToTheChannel(t *testing.T) {
	srv := accountsChat(t)
	alice := registerIRC(t, srv.IRC, "alice")
	watcher := registerIRC(t, srv.IRC, "watcher")
	for _, ch := range []string{"#go", "#rust"} {
		alice.joinLines(ch)
		watcher.joinLines(ch)
		alice.Send("PRIVMSG " + ch + " :kept in " + ch)
		watcher.until(" PRIVMSG " + ch + " :kept in " + ch) // shown once kept
	}
	frank := registerIRC(t, srv.IRC, "frank")
	frank.sync()
	for _, ch := range []string{"#go", "#rust"} {
		lines := append(frank.joinLines(ch), frank.sync()...)
		found := false
		for _, l := range lines {
			if strings.Contains(l, "end of history") {
				found = true
				if want := ":hubbub NOTICE " + ch + " :end of history"; !strings.HasPrefix(l, want) {
					t.Errorf("%s: got %q, want %q", ch, l, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no end of history in %q", ch, lines)
		}
	}
}

// Nothing answers a NOTICE, not even the server's once-only word that private messages with
// guests are kept nowhere: that comes with the first PRIVMSG to a nick instead.
func TestNoticeToGuestUnanswered(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func(t *testing.T) *chatServers
	}{
		{"no history", func(t *testing.T) *chatServers { return start(t, chat.DefaultConfig()) }},
		// With history, a private message waits behind the sender's room lines, which wait to
		// be kept: the server's word must not come with a NOTICE sent right after a line
		// (review: it answered the NOTICE, or was held for a later PRIVMSG it did not reach).
		{"history, after a line", func(t *testing.T) *chatServers { return accountsChat(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.start(t)
			bob := chattest.Join(t, srv.Addr, "bob")
			alice := registerIRC(t, srv.IRC, "alice")
			alice.sync()

			alice.Write("PRIVMSG #lobby :a line\r\nNOTICE bob :first\r\n")
			waitLine(t, bob, "<alice> a line")
			waitLine(t, bob, "[PM from alice] first")
			if got := alice.sync(); len(got) > 0 {
				t.Errorf("NOTICE to a guest: got %q, want no answer", got)
			}
			alice.Send("PRIVMSG bob :then")
			waitLine(t, bob, "[PM from alice] then")
			got := alice.sync()
			if len(got) != 1 || !strings.HasPrefix(got[0], ":hubbub NOTICE alice :private messages with guests are kept nowhere") {
				t.Errorf("first PRIVMSG to a guest: got %q, want the server's word once", got)
			}
			alice.Send("PRIVMSG bob :again")
			if got := alice.sync(); len(got) > 0 {
				t.Errorf("second PRIVMSG: got %q, want no answer", got)
			}
		})
	}
}

// WHOIS and WHO of a telnet user, whole lines: 319's channels end with the last (no trailing
// space), and 352's real name, after the hop count, is the user's name.
func TestWhoisWhoLines(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #bobs")
	waitLine(t, bob, "you made #bobs")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	for _, tt := range []struct {
		send string
		want []string // these lines, whole, among the answer
	}{
		{"WHOIS bob", []string{":hubbub 311 alice bob u hubbub * bob", ":hubbub 319 alice bob :#lobby #bobs"}},
		{"WHO #bobs", []string{":hubbub 352 alice #bobs u hubbub hubbub bob H@ :0 bob"}},
		{"WHO bob", []string{":hubbub 352 alice * u hubbub hubbub bob H :0 bob"}},
		{"WHO alice", []string{":hubbub 352 alice * u hubbub hubbub alice H :0 alice"}},
	} {
		alice.Send(tt.send)
		got := alice.sync()
		for _, w := range tt.want {
			found := false
			for _, l := range got {
				found = found || l == w
			}
			if !found {
				t.Errorf("%q: no line %q in %q", tt.send, w, got)
			}
		}
	}
}

// IRC colour codes an IRC client sends go whole, for telnet users and IRC clients alike:
// none of their digits is left behind ("4,5red").
func TestColourCodesStripped(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	alice := registerIRC(t, srv.IRC, "alice")
	carol := registerIRC(t, srv.IRC, "carol")
	alice.sync()

	for _, tt := range []struct{ send, want string }{
		{"\x034,5red\x03 and \x0312blue\x0f", "red and blue"},
		{"\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x04ff0000hex\x04", "bold italic under hex"},
		{"\x0399 bottles", "bottles"},
	} {
		alice.Send("PRIVMSG #lobby :" + tt.send)
		if got := waitLine(t, bob, "<alice>"); got != "<alice> "+tt.want {
			t.Errorf("%q: bob got %q, want %q", tt.send, got, "<alice> "+tt.want)
		}
		if got := carol.until(":alice!u@hubbub PRIVMSG #lobby :"); got != ":alice!u@hubbub PRIVMSG #lobby :"+tt.want {
			t.Errorf("%q: carol got %q", tt.send, got)
		}
	}
	alice.Send("PRIVMSG bob :\x034,5private")
	if got := waitLine(t, bob, "[PM from alice]"); got != "[PM from alice] private" {
		t.Errorf("bob got %q", got)
	}
}

// A long line from a telnet user reaches IRC clients split into lines of IRC's length, never
// inside what shows as one character: no line starts with a combining mark, a variation
// selector or a joiner, none ends with a joiner, and flags stay pairs of regional indicators.
// The text is shifted by a byte at a time so that some cut falls inside every kind.
func TestSplitKeepsCharactersWhole(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.sync()

	units := map[string]string{
		"flags":      "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea", // 🇫🇷🇩🇪
		"marks":      "e\u0301\u0323",                            // ẹ́
		"zwj":        "\U0001f469\u200d\U0001f4bb",               // 👩‍💻
		"selector":   "\u2764\ufe0f",                             // ❤️
		"tones":      "\U0001f44b\U0001f3fd",                     // 👋🏽
		"devanagari": "\u0915\u094d\u0937\u093f",                 // क्षि
	}
	for name, unit := range units {
		for shift := range 8 {
			text := strings.Repeat("x", shift) + strings.Repeat(unit, 1200/len(unit))
			bob.Send(text)
			prefix := ":bob!u@hubbub PRIVMSG #lobby :"
			var got strings.Builder
			for got.Len() < len(text) {
				line := alice.until(prefix)
				part := strings.TrimPrefix(line, prefix)
				if len(line)+2 > 512 {
					t.Fatalf("%s+%d: a line of %d bytes", name, shift, len(line)+2)
				}
				first, _ := utf8.DecodeRuneInString(part)
				last, _ := utf8.DecodeLastRuneInString(part)
				if unicode.In(first, unicode.M, unicode.Variation_Selector) || first == 0x200d || first >= 0x1f3fb && first <= 0x1f3ff {
					t.Errorf("%s+%d: a line starts with %U", name, shift, first)
				}
				if last == 0x200d {
					t.Errorf("%s+%d: a line ends with a joiner", name, shift)
				}
				if name == "flags" && strings.Count(part, "\U0001f1eb")+strings.Count(part, "\U0001f1e9") != strings.Count(part, "\U0001f1f7")+strings.Count(part, "\U0001f1ea") ||
					name == "flags" && (strings.HasPrefix(strings.TrimLeft(part, "x"), "\U0001f1f7") || strings.HasPrefix(strings.TrimLeft(part, "x"), "\U0001f1ea")) {
					t.Errorf("%s+%d: a flag cut in two: %q", name, shift, part)
				}
				got.WriteString(part)
			}
			if got.String() != text {
				t.Errorf("%s+%d: the lines together are not the text", name, shift)
			}
		}
	}
}
