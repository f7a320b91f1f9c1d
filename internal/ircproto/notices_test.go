package ircproto_test

import (
	"strings"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// noNotices fails for every line of lines that is a NOTICE from the server.
func noNotices(t *testing.T, what string, lines []string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, " NOTICE ") {
			t.Errorf("%s: got %q", what, l)
		}
	}
}

// An IRC client hears what IRC says, not the line chat's notices: joining several channels,
// parting, being kicked and quitting are JOIN, PART, KICK and ERROR only; a line too long is
// 417 alone; a notice the chat has for the user alone is addressed to its nick.
func TestNoLineNoticesOnIRC(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("JOIN #go,#rust")
	lines := alice.sync()
	noNotices(t, "JOIN #go,#rust", lines)
	if got := strings.Join(lines, "\n"); !strings.Contains(got, ":alice!u@hubbub JOIN #go") ||
		!strings.Contains(got, ":alice!u@hubbub JOIN #rust") || !strings.Contains(got, " 366 alice #rust ") {
		t.Errorf("JOIN #go,#rust: got\n%s", got)
	}

	alice.Send("PART #rust")
	noNotices(t, "PART #rust", alice.sync())

	alice.Send(strings.Repeat("x", 9000))
	lines = alice.sync()
	noNotices(t, "a line too long", lines)
	if len(lines) != 1 || !strings.Contains(lines[0], " 417 alice ") {
		t.Errorf("a line too long: got %q, want 417 alone", lines)
	}

	// Kicked from the channel its lines went to: KICK, and no word of where they go now.
	bob.Send("/join #go")
	waitLine(t, bob, "you joined #go")
	alice.until(":bob!u@hubbub JOIN #go")
	alice.Send("KICK #go bob :out")
	waitLine(t, bob, "you were kicked from #go by alice: out")
	bob.Send("/join #go")
	waitLine(t, bob, "you joined #go")
	alice.until(":bob!u@hubbub JOIN #go")
	alice.Send("JOIN #go") // #go is where alice's lines go, as when it was joined last
	alice.sync()
	bob.Send("/whois alice") // bob owns nothing here; alice made #go and owns it
	bob.Send("/join #lobby")
	waitLine(t, bob, "now talking in #lobby")

	// The chat's words for the user alone (a private message to a guest is kept nowhere) come
	// as a NOTICE to its nick.
	alice.Send("PRIVMSG bob :hi")
	alice.until(":hubbub NOTICE alice :private messages with guests are kept nowhere")
	waitLine(t, bob, "[PM from alice] hi")

	alice.Send("QUIT :bye")
	for {
		line, err := alice.TryReadLine(chattest.Timeout)
		if err != nil {
			break
		}
		if strings.Contains(line, "NOTICE") || !strings.HasPrefix(line, "ERROR ") {
			t.Errorf("QUIT: got %q, want ERROR only", line)
		}
	}
}

// A kicked IRC client gets a KICK from the chat's typed event; kicked out of its last channel
// it is back in #lobby with a JOIN and the names, before it says anything, and no NOTICE.
func TestKickedBackToLobby(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #go")
	waitLine(t, bob, "you made #go")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("JOIN #go")
	alice.until(" 366 alice #go ")
	alice.Send("PART #lobby")
	alice.until(":alice!u@hubbub PART #lobby")
	alice.sync()

	bob.Send("/kick alice spam: and more")
	// The KICK and the JOIN come in either order (the chat says where the member is first);
	// the names come with the JOIN.
	var got []string
	for all := ""; !strings.Contains(all, " 366 ") || !strings.Contains(all, " KICK "); all = strings.Join(got, "\n") {
		got = append(got, alice.ReadLine())
	}
	all := strings.Join(got, "\n") + "\n"
	for _, w := range []string{
		":bob!u@hubbub KICK #go alice :spam: and more\n",
		":alice!u@hubbub JOIN #lobby\n:hubbub 353 alice = #lobby :",
		":hubbub 366 alice #lobby :End of /NAMES list",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("got\n%s\nwant %q in it", all, w)
		}
	}
	noNotices(t, "after the kick", alice.sync())
}

// away-notify: a client that asked is told, as AWAY, when someone in a channel it shares goes
// away or comes back; one that did not ask, and telnet users, are not.
func TestAwayNotify(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	watcher := dialIRC(t, srv.IRC)
	watcher.Send("CAP LS 302")
	watcher.Send("CAP REQ :away-notify")
	watcher.Send("NICK watcher")
	watcher.Send("USER w 0 * :w")
	watcher.until("CAP * ACK :away-notify")
	watcher.Send("CAP END")
	watcher.until(" 366 watcher #lobby ")
	plain := registerIRC(t, srv.IRC, "plain")
	dave := chattest.Join(t, srv.Addr, "dave")
	bob := chattest.Join(t, srv.Addr, "bob")
	watcher.sync()

	bob.Send("/away at lunch")
	waitLine(t, bob, "you are away: at lunch")
	watcher.until(":bob!u@hubbub AWAY :at lunch")
	bob.Send("/away")
	waitLine(t, bob, "you are no longer away")
	watcher.until(":bob!u@hubbub AWAY")

	// Its own away is answered, not notified.
	watcher.Send("AWAY :gone")
	if lines := watcher.sync(); len(lines) != 1 || !strings.Contains(lines[0], " 306 watcher ") {
		t.Errorf("AWAY: got %q, want 306 alone", lines)
	}
	// A PRIVMSG to someone away is answered 301, as IRC does, not with a notice.
	plain.Send("PRIVMSG watcher :there?")
	plain.until(":hubbub 301 plain watcher ", "gone")
	for _, l := range plain.sync() {
		if strings.Contains(l, "AWAY") || strings.Contains(l, "NOTICE plain :watcher") {
			t.Errorf("plain: got %q", l)
		}
	}
	dave.Send("/rooms")
	for line := dave.ReadLine(); !strings.Contains(line, "rooms:"); line = dave.ReadLine() {
		if strings.Contains(line, "away") || strings.Contains(line, "gone") || line == "" {
			t.Errorf("telnet: got %q", line)
		}
	}
}

// 003 says when the server started.
func TestCreated(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	u := dialIRC(t, srv.IRC)
	u.Send("NICK alice")
	u.Send("USER alice 0 * :a")
	line := u.until(" 003 alice ")
	if !strings.HasSuffix(line, " :This server was created "+strings.Fields(line)[len(strings.Fields(line))-3]+" "+
		strings.Fields(line)[len(strings.Fields(line))-2]+" UTC") || !strings.Contains(line, "created 20") {
		t.Errorf("003: %q", line)
	}
}

// TestOwnerPassedIsModeO: when a channel's owner leaves, the member it passes to is its
// operator now: IRC clients in it get MODE +o, so that their nick lists show the @ without
// asking NAMES again (found by the tryout: they kept the old owner's @).
func TestOwnerPassedIsModeO(t *testing.T) {
	srv := start(t, chat.DefaultConfig())
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #go")
	waitLine(t, bob, "you made #go")
	alice := registerIRC(t, srv.IRC, "alice")
	alice.Send("JOIN #go")
	alice.until(" 366 alice #go ")
	carol := registerIRC(t, srv.IRC, "carol")
	carol.Send("JOIN #go")
	carol.until(" 366 carol #go ")
	alice.until(":carol!u@hubbub JOIN #go")

	bob.Send("/quit")
	for _, u := range []*ircUser{alice, carol} {
		u.until(":bob!u@hubbub QUIT")
		u.until(":hubbub MODE #go +o alice")
	}
	alice.Send("NAMES #go")
	alice.until(" 353 alice = #go :", "@alice")
}
