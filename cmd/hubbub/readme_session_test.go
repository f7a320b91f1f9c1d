package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// readmeSessions returns the example sessions of the README, each the lines one user sees
// (with the lines they typed marked "> "), by the user's name.
func readmeSessions(t *testing.T) map[string][]string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	intro := regexp.MustCompile("^(?:A session, as|and as) `([a-z]+)`")
	sessions := map[string][]string{}
	var who string
	inBlock := false
	for line := range strings.Lines(string(readme)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case inBlock && line == "```":
			inBlock, who = false, ""
		case inBlock:
			sessions[who] = append(sessions[who], line)
		case who != "" && line == "```":
			inBlock = true
		case intro.MatchString(line):
			who = intro.FindStringSubmatch(line)[1]
		}
	}
	return sessions
}

// TestREADMESessions plays the README's example conversation against a real server and checks
// that each user sees, line for line, what the README shows them.
func TestREADMESessions(t *testing.T) {
	want := readmeSessions(t)
	for _, who := range []string{"alice", "bob"} {
		if len(want[who]) == 0 {
			t.Fatalf("README.md has no example session as %s sees it", who)
		}
	}
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)

	// Who does what, in order. A connection is an empty line; the rest is typed.
	steps := []struct{ who, typed string }{
		{"alice", ""}, {"alice", "Alice"},
		{"bob", ""}, {"bob", "alice"}, {"bob", "bob"},
		{"alice", "hello everyone"}, {"bob", "hi alice"},
		{"alice", "/join go"}, {"bob", "/join go"}, {"bob", "so, generics"},
		{"carol", ""}, {"carol", "carol"}, {"carol", "anyone around?"},
		{"alice", "/msg carol we are in #go"}, {"alice", "/quit off to lunch"},
	}
	clients := map[string]*chattest.Client{}
	got := map[string][]string{}
	marker := 0
	// settle has every connected user ask for something the server answers only after what
	// came before it, and collects what each was sent up to that answer: first the user who
	// acted, whose answer means the server is done with what they typed, then the others.
	// (Without history, whatever a line makes the server say is queued before the server reads
	// that user's next line.)
	settle := func(actor string) {
		for _, who := range []string{actor, "alice", "bob", "carol"} {
			c := clients[who]
			if c == nil {
				continue
			}
			marker++
			tag := fmt.Sprintf("mark%d", marker)
			c.Send("/help " + tag)
			for {
				line := c.ReadLine()
				if strings.Contains(line, tag) {
					break
				}
				got[who] = append(got[who], line)
			}
		}
	}
	for _, step := range steps {
		if step.typed == "" {
			clients[step.who] = chattest.Dial(t, srv.Addr)
			settle(step.who)
			continue
		}
		clients[step.who].Send(step.typed)
		got[step.who] = append(got[step.who], "> "+step.typed)
		if step.typed == "/quit off to lunch" {
			c := clients[step.who]
			delete(clients, step.who)
			for {
				line, err := c.TryReadLine(5 * time.Second)
				if err != nil {
					break
				}
				got[step.who] = append(got[step.who], line)
			}
		}
		settle(step.who)
	}
	for _, who := range []string{"alice", "bob"} {
		if !slices.Equal(got[who], want[who]) {
			t.Errorf("as %s sees it, the README says:\n%s\n\nthe server says:\n%s", who,
				strings.Join(want[who], "\n"), strings.Join(got[who], "\n"))
		}
	}
}
