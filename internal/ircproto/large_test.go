package ircproto_test

import (
	"strconv"
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// readUntil reads u's lines up to and with the first that contains every part.
func (u *ircUser) readUntil(parts ...string) []string {
	u.t.Helper()
	var lines []string
	for {
		line := u.ReadLine()
		lines = append(lines, line)
		if containsAll(line, parts) {
			return lines
		}
	}
}

// names returns the nicks the 353 lines among lines list.
func names(lines []string) []string {
	var out []string
	for _, l := range lines {
		if _, list, ok := strings.Cut(l, " 353 "); ok {
			_, nicks, _ := strings.Cut(list, " :")
			out = append(out, strings.Fields(nicks)...)
		}
	}
	return out
}

// In a channel of more than --announce-limit members an IRC client is sent no JOIN, PART or
// QUIT of ordinary members; the names of its join, NAMES and WHO list at most 50, itself
// first, and end with 366 and 315 as ever, saying how many there are; LIST counts everyone;
// and it still talks with a telnet user there.
func TestLargeChannel(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.AnnounceLimit = 3
	srv := start(t, cfg)
	var line []*chattest.Client
	for i := range 53 {
		line = append(line, chattest.Join(t, srv.Addr, "l"+strconv.Itoa(i)))
	}

	alice := dialIRC(t, srv.IRC)
	alice.nick = "alice"
	alice.Send("NICK alice")
	alice.Send("USER alice 0 * :alice")
	joined := alice.readUntil(" 366 alice #lobby ")
	if !slicesHasPart(joined, "NOTICE alice :#lobby has 54 members: its members' joins and leaves are not shown here") {
		t.Errorf("the joiner was not told the channel is large: %q", joined)
	}
	want := append([]string{"alice"}, lineNames(49)...)
	if got := names(joined); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("names on joining: %q, want %q", got, want)
	}
	if end := joined[len(joined)-1]; !strings.HasSuffix(end, " 366 alice #lobby :End of /NAMES list: 50 of 54 shown, the channel is too large to list") {
		t.Errorf("names end with %q", end)
	}

	alice.Send("NAMES #lobby")
	if got := names(alice.readUntil(" 366 alice #lobby ")); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("NAMES: %q, want %q", got, want)
	}
	alice.Send("WHO #lobby")
	who := alice.readUntil(" 315 alice #lobby ")
	if n := len(who) - 1; n != 50 || !strings.Contains(who[0], " 352 alice #lobby u hubbub hubbub alice H ") {
		t.Errorf("WHO sent %d 352s, want 50, alice's first: %q", n, who)
	}
	if end := who[len(who)-1]; !strings.HasSuffix(end, ":End of /WHO list: 50 of 54 shown, the channel is too large to list") {
		t.Errorf("WHO ends with %q", end)
	}
	alice.Send("LIST")
	alice.until(" 322 alice #lobby 54 ")

	// Comings and goings of ordinary members: a telnet user, an IRC user, a part, a quit.
	// Each waits for its own answer, which comes once the room was (or was not) told.
	late := chattest.Join(t, srv.Addr, "late")
	waitLine(t, late, "#lobby has 55 members")
	bob := registerIRC(t, srv.IRC, "bob")
	bob.Send("JOIN #side")
	bob.until(" 366 bob #side ")
	bob.Send("PART #side")
	bob.until(":bob!u@hubbub PART #side")
	bob.Send("QUIT :bye")
	bob.until("ERROR :Closing link")
	chattest.WaitFor(t, "bob to leave the chat", func() bool { users, _ := srv.Hub.Counts(); return users == 55 })
	line[1].Send("/quit")
	line[1].ExpectClosed()
	// A nick change is no coming or going: told as ever. The line after it comes from the same
	// connection, so it is said once the change was shown to everyone.
	line[2].Send("/nick l2b")
	line[2].Send("after them")
	seen := alice.readUntil(":l2b!u@hubbub PRIVMSG #lobby :after them")
	for _, l := range seen {
		for _, cmd := range []string{" JOIN ", " PART ", " QUIT "} {
			if strings.Contains(l, cmd) {
				t.Errorf("the IRC client was sent %q in a large channel", l)
			}
		}
	}
	if !slicesHasPart(seen, ":l2!u@hubbub NICK :l2b") {
		t.Errorf("the nick change was not sent: %q", seen)
	}

	alice.Send("PRIVMSG #lobby :hello telnet")
	waitLine(t, line[0], "<alice> hello telnet")
}

// lineNames are the first n telnet users' names.
func lineNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "l" + strconv.Itoa(i)
	}
	return out
}

func slicesHasPart(lines []string, part string) bool {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}
