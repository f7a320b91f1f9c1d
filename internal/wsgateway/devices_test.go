package wsgateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"hubbub/internal/chattest"
)

// seen is every event a WebSocket client of the test was sent, raw, to look for a password in.
type seen struct{ raw []string }

// until reads c's events up to and including the first of kind, keeping them all in s, and
// returns that one.
func (s *seen) until(t *testing.T, c *client, kind string) event {
	t.Helper()
	for {
		raw, err := c.nextRaw()
		if err != nil {
			t.Fatalf("waiting for a %s event: %v (after %q)", kind, err, s.raw)
		}
		s.raw = append(s.raw, string(raw))
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("not JSON: %s", raw)
		}
		if e.Kind == kind {
			return e
		}
	}
}

// next reads c's next event, keeping it in s, and checks that it is of kind.
func (s *seen) next(t *testing.T, c *client, kind string) event {
	t.Helper()
	raw, err := c.nextRaw()
	if err != nil {
		t.Fatalf("waiting for a %s event: %v", kind, err)
	}
	s.raw = append(s.raw, string(raw))
	var e event
	if err := json.Unmarshal(raw, &e); err != nil || e.Kind != kind {
		t.Fatalf("got %s, want a %s event", raw, kind)
	}
	return e
}

// TestAccountOnWebSocketAndTerminal: an account registered over the WebSocket (password
// questions as secret_prompt and secret_done, the password never sent back), logged in over
// the WebSocket at the name prompt and on a terminal at once, is one person: a private message
// reaches both devices, a line said on one shows on the other as the account's own (sent),
// /who lists it once, and only the last device to leave is announced.
func TestAccountOnWebSocketAndTerminal(t *testing.T) {
	const pw = "a web password 1"
	s := startLogin(t, testConfig())
	lineAddr, url, origin := s.line, s.ws, s.base
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}}
	var events seen
	var lines []string // every line the terminals got

	// Registered from the page.
	web := dial(t, url, opts)
	events.next(t, web, "prompt")
	web.send("alice")
	events.until(t, web, "welcome")
	events.until(t, web, "current")
	web.send("/register")
	if e := events.next(t, web, "secret_prompt"); !strings.HasPrefix(e.Text, "choose a password for alice") {
		t.Errorf("first question: %+v", e)
	}
	web.send(pw)
	events.next(t, web, "secret_done")
	if e := events.next(t, web, "secret_prompt"); e.Text != "the same password again" {
		t.Errorf("second question: %+v", e)
	}
	web.send(pw)
	events.next(t, web, "secret_done")
	if e := events.next(t, web, "notice"); e.Text != "alice is registered to you: next time, choosing alice asks for this password" {
		t.Errorf("after the second password: %+v", e)
	}
	web.send("/quit")
	events.until(t, web, "notice")
	web.closed()

	// Logged in from the page at the name prompt.
	web = dial(t, url, opts)
	events.next(t, web, "prompt")
	web.send("alice")
	if e := events.next(t, web, "secret_prompt"); e.Text != "password for alice:" {
		t.Errorf("login question: %+v", e)
	}
	web.send(pw)
	events.next(t, web, "secret_done")
	if e := events.next(t, web, "welcome"); e.From != "alice" {
		t.Errorf("welcomed as %+v, want alice", e)
	}
	events.until(t, web, "current")

	bob := chattest.Join(t, lineAddr, "bob")
	events.until(t, web, "join")

	// The same account on a terminal, a second device: nobody is told it joined.
	term := chattest.Dial(t, lineAddr)
	term.Expect("What's your name?")
	term.Send("alice")
	term.Expect("\xff\xfb\x01*** password for alice:")
	term.Send(pw)
	term.Expect("\xff\xfc\x01Welcome, alice!")
	term.Expect("*** you are also connected from 1 other device: what you say and are sent shows on each",
		"*** you are in #lobby")
	bob.Send("/who")
	lines = append(lines, readTo(t, bob, "*** #lobby (2): alice, bob")...) // and no join before it

	// A private message from a third user reaches both devices.
	bob.Send("/msg alice psst")
	if e := events.until(t, web, "private"); e.From != "bob" || e.Text != "psst" || e.Sent {
		t.Errorf("the page got %+v, want bob's psst", e)
	}
	lines = append(lines, readTo(t, term, "[PM from bob] psst")...)
	lines = append(lines, readTo(t, bob, "[PM to alice] psst")...)

	// Said on the terminal: the room sees alice's line, the page sees it as its own.
	term.Send("from the terminal")
	if e := events.until(t, web, "message"); e.From != "alice" || e.Text != "from the terminal" || !e.Sent {
		t.Errorf("the page got %+v, want its own line from the terminal, sent", e)
	}
	lines = append(lines, readTo(t, bob, "<alice> from the terminal")...)

	// One person in /who, on each device.
	web.send("/who")
	who := events.until(t, web, "members")
	var members struct {
		Total   int
		Members []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(events.raw[len(events.raw)-1]), &members); err != nil {
		t.Fatal(err)
	}
	if members.Total != 2 || len(members.Members) != 2 || members.Members[0].Name != "alice" || members.Members[1].Name != "bob" {
		t.Errorf("/who on the page: %s (%+v)", events.raw[len(events.raw)-1], who)
	}
	term.Send("/who")
	lines = append(lines, readTo(t, term, "*** #lobby (2): alice, bob")...)

	// The page leaves: alice is still in, so nothing is said.
	web.send("/quit")
	events.until(t, web, "notice")
	web.closed()
	bob.Send("/who")
	lines = append(lines, readTo(t, bob, "*** #lobby (2): alice, bob")...)
	if i := indexContaining(lines, "has left"); i >= 0 {
		t.Errorf("a device leaving was announced: %q", lines[i])
	}
	// The terminal leaves too: now alice has left.
	term.Send("/quit")
	lines = append(lines, term.ExpectClosed())
	bob.Expect("alice has left the channel.")

	for _, raw := range events.raw {
		if strings.Contains(raw, pw) {
			t.Errorf("the page was sent the password: %s", raw)
		}
	}
	if i := indexContaining(lines, pw); i >= 0 {
		t.Errorf("a terminal was sent the password: %q", lines[i])
	}
}

// readTo reads c's lines up to and including last, and returns them.
func readTo(t *testing.T, c *chattest.Client, last string) []string {
	t.Helper()
	var lines []string
	for {
		line, err := c.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("no %q (%v) after %q", last, err, lines)
		}
		lines = append(lines, line)
		if line == last {
			return lines
		}
	}
}

func indexContaining(lines []string, part string) int {
	for i, l := range lines {
		if strings.Contains(l, part) {
			return i
		}
	}
	return -1
}
