package conversation_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// drain reads what c was sent until the marker line it asks for arrives, and returns the lines
// before it. The marker is a notice about a name no one holds, so it is unique to this call.
func drain(t *testing.T, c *chattest.Client, marker int) []string {
	t.Helper()
	name := fmt.Sprintf("mark%d", marker)
	c.Send("/whois " + name)
	want := "*** no one called " + name + " is online"
	var lines []string
	for {
		line := c.ReadLine()
		if line == want {
			return lines
		}
		lines = append(lines, line)
	}
}

// noticeCatalog has a user run every command, right and wrong, and returns each line the server
// said of its own (the lines starting with "*** ") to that user and to the others watching.
func noticeCatalog(t *testing.T, srv *chattest.Server, clk *clock) map[string]bool {
	t.Helper()
	me := chattest.Join(t, srv.Addr, "cat1")
	other := chattest.Join(t, srv.Addr, "cat2")
	me.Expect("cat2 has joined the channel")
	commands := []string{
		"/help", "/help join", "/help nothing", "/nothing", "/join", "/join #", "/join bad name",
		"/join cats", "/join cats", "/part nowhere", "/who", "/who nowhere", "/rooms", "/topic",
		"/topic hello", "/topic", "/topic -", "/part", "/part", "/nick", "/nick cat2", "/nick a b",
		"/msg", "/msg nobody hi", "/msg cat1 hi", "/msg cat2 hi", "/reply", "/reply hi", "/me",
		"/away", "/away lunch", "/away", "/whois", "/whois cat2", "/ignore", "/ignore nobody",
		"/ignore cat1", "/ignore cat2", "/ignore", "/unignore cat2", "/unignore cat2", "/kick",
		"/kick cat2", "/mute cat2", "/unmute cat2", "/ban", "/unban cat9", "/oper", "/oper wrong",
		"/oper s3cret", "/oper s3cret", "/mute cat2 1m", "/unmute cat2", "/mute cat2 x",
		"/ban", "/ban 10.9.9.9 1h", "/ban", "/unban 10.9.9.9", "/ban cat9", "/unban cat9",
		"/whois cat2", "/history", "/history 2", "/history cat2", "/history nobody",
		"/search hello", "/search", "/search zzz", "/join cats", "/kick cat2 go away",
	}
	catalog := map[string]bool{}
	for i, cmd := range commands {
		clk.Add(time.Hour) // past any wait a wrong /oper password brings
		me.Send(cmd)
		for _, c := range []*chattest.Client{me, other} {
			for _, line := range drain(t, c, i) {
				if strings.HasPrefix(line, "*** ") {
					catalog[line] = true
				}
			}
		}
	}
	// What the server says on its own, unasked.
	for _, text := range []string{"you are now an operator", "you are banned from this server",
		"server shutting down", "you were kicked by cat1", "an operator muted you for 10m0s",
		"you may talk again", "goodbye"} {
		catalog["*** "+text] = true
	}
	return catalog
}

// TestNoUserLineLooksLikeANotice tries every way a user has to put text before another user
// (lines, actions, private messages, topics, away texts, names, quit and kick reasons, /who and
// /whois lists, history replay) with the words of every notice the server says, and checks
// that none of what arrives is byte for byte a notice.
func TestNoUserLineLooksLikeANotice(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "s3cret"
	srv, _, clk := startWithHistory(t, cfg, chattest.StoreConfig(t))
	catalog := noticeCatalog(t, srv, clk)
	if len(catalog) < 40 {
		t.Fatalf("the catalog has only %d notices: the commands did not run", len(catalog))
	}

	victim := chattest.Join(t, srv.Addr, "victim")
	pawn := chattest.Join(t, srv.Addr, "pawn")
	victim.Expect("pawn has joined the channel")
	// Attackers named after the first words of notices, so that "* you are now an operator"
	// is what an action by "you" would look like.
	var attackers []*chattest.Client
	var names []string
	for _, name := range []string{"you", "an", "the", "no", "only", "now"} {
		a := chattest.Join(t, srv.Addr, name)
		victim.Expect(name + " has joined the channel")
		attackers = append(attackers, a)
		names = append(names, name)
	}
	var texts []string
	for line := range catalog {
		texts = append(texts, strings.TrimPrefix(line, "*** "))
	}

	var seen []string
	marker := 1000
	watch := func() {
		marker++
		seen = append(seen, drain(t, victim, marker)...)
	}
	for i, a := range attackers {
		room := "den" + names[i]
		a.Send("/join " + room)
		marker++
		drain(t, a, marker) // a made the room and owns it
		victim.Send("/join " + room)
		pawn.Send("/join " + room)
		marker++
		drain(t, victim, marker) // what joining says to the victim is its own command's answer
		marker++
		drain(t, pawn, marker)
		for _, text := range texts {
			rest := text
			if first, after, ok := strings.Cut(text, " "); ok && first == names[i] {
				rest = after
			}
			for _, line := range []string{text, "*** " + text, "* " + text, "//" + text, "/me " + rest,
				"/me " + text, "/msg victim " + text, "/away " + text, "/topic " + text} {
				a.Send(line)
			}
			victim.Send("/who")
			victim.Send("/whois " + names[i])
			victim.Send("/topic")
			watch()
		}
		a.Send("/away")
		a.Send("/kick pawn " + texts[i])
		pawn.Send("/join " + room)
		watch()
	}
	// Names, quit reasons and history replay.
	for i, a := range attackers {
		a.Send("/nick " + names[(i+1)%len(names)] + "x")
		a.Send("/quit " + texts[i%len(texts)])
		watch()
	}
	// What history gives back: the replay on joining and /history. Only the replayed lines are
	// checked, since the notices that end them are the server's own.
	late := chattest.Join(t, srv.Addr, "late")
	late.Send("/join denyou")
	late.Send("/history 200")
	victim.Send("/history 200")
	replayed := 0
	for _, c := range []*chattest.Client{late, victim} {
		marker++
		for _, line := range drain(t, c, marker) {
			if strings.HasPrefix(line, "[") {
				seen = append(seen, line)
				replayed++
			}
		}
	}
	if replayed < 20 {
		t.Errorf("history gave back only %d lines", replayed)
	}

	if len(seen) < 1000 {
		t.Fatalf("the victim saw only %d lines: the attack did not run", len(seen))
	}
	for _, line := range seen {
		if catalog[line] {
			t.Errorf("a user made this line, which is byte for byte a server notice: %q", line)
		}
	}
}

// TestFreeTextCannotPassForFacts checks the places where a user's free text sits beside what
// the server states: /who lists, /whois facts and leave reasons.
func TestFreeTextCannotPassForFacts(t *testing.T) {
	srv, _ := chattest.StartOnClock(t, chat.DefaultConfig())
	alice, bob, carol := joinThree(t, srv.Addr)

	bob.Send("/away x), carol (operator")
	bob.Expect("*** you are away: x), carol (operator")
	alice.Send("/who")
	alice.Expect("*** #lobby (3): alice, bob (away), carol", "***   bob is away: x), carol (operator")

	bob.Send("/away x, operator, from 10.0.0.1")
	bob.Expect("*** you are away: x, operator, from 10.0.0.1")
	alice.Send("/whois bob")
	line := alice.ReadLine()
	if strings.Contains(line, "operator") || strings.Contains(line, "10.0.0.1") {
		t.Errorf("the away text passes for facts in %q", line)
	}
	alice.Expect("*** bob is away: x, operator, from 10.0.0.1")

	carol.Send("/quit kicked by alice: spam")
	alice.Expect("carol has left the channel. (quit: kicked by alice: spam)")
}
