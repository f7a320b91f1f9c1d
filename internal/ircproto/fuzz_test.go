package ircproto

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"hubbub/internal/chat"
	"hubbub/internal/lineproto"
)

// FuzzParse feeds the IRC line parser anything: it never panics, keeps at most maxParams
// parameters, and what the server builds from any of them is one line each, within IRC's
// length, with no CR, LF or NUL inside.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"PRIVMSG #go :hello world",
		"@time=2026-11-29T00:00:00.000Z;+draft/x=y :nick!u@h PRIVMSG bob :\x01ACTION waves\x01",
		"CAP REQ :sasl server-time",
		"  JOIN   #a,#b   key",
		"A B C D E F G H I J K L M N O P Q R :tail",
		":only.a.prefix",
		"@",
		"NICK :",
		"AUTHENTICATE " + strings.Repeat("A", 400),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m := parse(line)
		if len(m.params) > maxParams {
			t.Fatalf("%d params", len(m.params))
		}
		if m.command != strings.ToUpper(m.command) {
			t.Fatalf("command %q not upper-cased", m.command)
		}
		for _, p := range m.params {
			if q := safeParam(p); q == "" || q[0] == ':' || strings.ContainsAny(q, " \r\n\x00") {
				t.Fatalf("safeParam(%q) = %q", p, q)
			}
		}
		text := m.arg(len(m.params) - 1)
		// Names and rooms are at most 32 characters (which IRC may show as up to 4 bytes each,
		// ircNick): every line built of such is one of IRC's length, whatever the text.
		short := utf8.RuneCountInString(m.command) <= chat.MaxNameLen && utf8.RuneCountInString(m.arg(0)) <= chat.MaxNameLen
		for _, kind := range []chat.Kind{chat.KindChat, chat.KindAction, chat.KindPrivate, chat.KindTopic,
			chat.KindQuit, chat.KindLeave, chat.KindKick, chat.KindAway, chat.KindNick, chat.KindNotice} {
			msg := &chat.Message{Kind: kind, Room: "#" + m.arg(0), From: m.command, To: m.arg(0), Text: text,
				Notice: len(text)%2 == 0}
			out := appendMessage(nil, msg, "")
			if !bytes.HasSuffix(out, []byte("\r\n")) && len(out) > 0 {
				t.Fatalf("no line end: %q", out)
			}
			for _, l := range bytes.SplitAfter(out, []byte("\r\n")) {
				if len(l) == 0 {
					continue
				}
				body := bytes.TrimSuffix(l, []byte("\r\n"))
				if bytes.ContainsAny(body, "\r\n\x00") {
					t.Fatalf("a line holds CR, LF or NUL: %q", l)
				}
				if len(l) > maxLine && (short || kind == chat.KindChat && len(m.command)+len(m.arg(0)) < 200) {
					t.Fatalf("kind %v: a line of %d bytes: %q", kind, len(l), l)
				}
			}
		}
		if short {
			for _, params := range [][]string{{"#" + m.arg(0), text}, {m.arg(0), "u", serverName, "*", text}, {text}} {
				l := numericLine(safeParam(m.command), "332", params...)
				if len(l)+2 > maxLine || strings.ContainsAny(l, "\r\n\x00") || !utf8.ValidString(l) {
					t.Fatalf("numeric of %d bytes: %q", len(l)+2, l)
				}
			}
		}
	})
}

// FuzzDecoder feeds the IRC line framer anything, in pieces: it never panics, never returns a
// line longer than its limit or one with CR or LF inside, and reports a line too long once.
func FuzzDecoder(f *testing.F) {
	for _, seed := range []string{
		"NICK a\r\nUSER a 0 * :a\r\n",
		"PING :x\rPING :y\nPING :z\r\n",
		strings.Repeat("x", 70) + "\r\n",
		"\r\r\n\n",
		"",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		const limit = 64
		d := newLineDecoder(limit)
		n := max(int(step), 1)
		for len(in) > 0 {
			p := in[:min(n, len(in))]
			in = in[len(p):]
			for len(p) > 0 {
				used, ev := d.Decode(p)
				if used <= 0 || used > len(p) {
					t.Fatalf("used %d of %d bytes", used, len(p))
				}
				p = p[used:]
				if ev == lineproto.LineReady {
					if l := d.Line(); len(l) > limit || bytes.ContainsAny(l, "\r\n") {
						t.Fatalf("line %q", l)
					}
					d.Release()
				}
			}
		}
	})
}

// A large room's names are split into 353 lines that each fit an IRC line and together name
// every member once, the owner with its @.
func TestNamesSplitIntoLines(t *testing.T) {
	for _, n := range []int{0, 1, 40, 3000} {
		who := chat.RoomMembers{Room: "#big"}
		for i := range n {
			who.Members = append(who.Members, chat.MemberInfo{Name: fmt.Sprintf("member%d", i), Owner: i == 1})
		}
		out := string(appendNames(nil, "me", who, answerBytes(256<<10)))
		lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
		var names []string
		for _, l := range lines[:len(lines)-1] {
			if len(l)+2 > maxLine {
				t.Errorf("%d members: a line of %d bytes", n, len(l)+2)
			}
			head, list, ok := strings.Cut(l, " :")
			if !ok || head != ":hubbub 353 me = #big" || list == "" {
				t.Fatalf("%d members: line %q", n, l)
			}
			names = append(names, strings.Split(list, " ")...)
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, " 366 me #big ") {
			t.Errorf("%d members: last line %q", n, last)
		}
		if len(names) != n {
			t.Fatalf("%d members: %d names listed", n, len(names))
		}
		for i, name := range names {
			want := fmt.Sprintf("member%d", i)
			if i == 1 {
				want = "@" + want
			}
			if name != want {
				t.Fatalf("%d members: name %d is %q, want %q", n, i, name, want)
			}
		}
	}
}

// A room's names that do not fit an answer's bytes are cut at a name, and 366 says how many
// were shown of how many: the answer stays within its budget, whatever the room.
func TestNamesWithinBudget(t *testing.T) {
	who := chat.RoomMembers{Room: "#big"}
	for i := range 3000 {
		who.Members = append(who.Members, chat.MemberInfo{Name: fmt.Sprintf("member%d", i)})
	}
	const budget = 4 << 10
	out := string(appendNames(nil, "me", who, budget))
	lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
	shown := 0
	for _, l := range lines[:len(lines)-1] {
		_, list, _ := strings.Cut(l, " :")
		shown += len(strings.Split(list, " "))
	}
	if len(out)-len(lines[len(lines)-1]) > budget {
		t.Errorf("%d bytes of names, over the budget of %d", len(out)-len(lines[len(lines)-1]), budget)
	}
	if want := fmt.Sprintf(" 366 me #big :End of /NAMES list: %d of 3000 shown,", shown); shown == 0 || !strings.Contains(lines[len(lines)-1], want) {
		t.Errorf("%d names shown, last line %q", shown, lines[len(lines)-1])
	}
}

// FuzzSplitText: text said by a name of any length up to the chat's, split for IRC, is lines
// of at most maxLine bytes that together are the text as cleaned, each cut where clusterStart
// says: never starting with what belongs to the character before it, unless that character
// is longer than a line.
func FuzzSplitText(f *testing.F) {
	for _, seed := range []string{
		strings.Repeat("\U0001f1eb\U0001f1f7", 80), strings.Repeat("e\u0301\u0323", 200),
		strings.Repeat("\U0001f469\u200d\U0001f4bb", 60), strings.Repeat("\u2764\ufe0f ", 150),
		strings.Repeat("\U0001f469\u200d", 300), strings.Repeat("a", 1000),
	} {
		f.Add(uint8(0), seed, false)
		f.Add(uint8(31), seed, true)
	}
	f.Fuzz(func(t *testing.T, nameLen uint8, text string, action bool) {
		from := strings.Repeat("\u00e9", int(nameLen)%(chat.MaxNameLen+1))
		ctcp := ""
		if action {
			ctcp = "\x01ACTION "
		}
		out := appendText(nil, "", mask(from), "PRIVMSG", "#"+strings.Repeat("\u00e9", chat.MaxNameLen), ctcp, text)
		var whole strings.Builder
		for _, l := range strings.SplitAfter(string(out), "\r\n") {
			if l == "" {
				continue
			}
			if len(l) > maxLine {
				t.Fatalf("a line of %d bytes: %q", len(l), l)
			}
			_, part, _ := strings.Cut(strings.TrimSuffix(l, "\r\n"), " :")
			if action {
				part = strings.TrimSuffix(strings.TrimPrefix(part, ctcp), "\x01")
			}
			whole.WriteString(part)
		}
		if want := safeTrailing(text); whole.String() != want {
			t.Fatalf("the lines are %q, want %q", whole.String(), want)
		}
	})
}
