package ircproto

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"hubbub/internal/chat"
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
		msg := &chat.Message{Kind: chat.KindChat, Room: "#" + m.arg(0), From: m.command, Text: text}
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
			if len(l) > maxLine && len(m.command)+len(m.arg(0)) < 200 {
				t.Fatalf("a line of %d bytes: %q", len(l), l)
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
