package ircproto_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// An idle client is pinged; one that answers stays, one that does not is closed for it.
func TestPingTimeout(t *testing.T) {
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) { c.PingInterval = time.Second })
	live := registerIRC(t, srv.IRC, "live")
	dead := registerIRC(t, srv.IRC, "dead")
	for range 2 {
		live.until("PING :hubbub")
		live.Send("PONG :hubbub")
	}
	dead.until("PING :hubbub")
	dead.ExpectClosed()
	srv.Logs.WaitFor(t, "connection closed", "service=irc", "name=dead", `reason="ping timeout"`)
	live.sync()
}

// With history, joining a channel replays its last lines in a chathistory batch, each with
// the time it was said.
func TestHistoryBatchOnJoin(t *testing.T) {
	srv := accountsChat(t)
	bob := chattest.Join(t, srv.Addr, "bob")
	bob.Send("/join #go")
	waitLine(t, bob, "you made #go")
	// A line is shown once it is stored: dave seeing the last one means both are kept.
	dave := chattest.Join(t, srv.Addr, "dave")
	dave.Send("/join #go")
	waitLine(t, dave, "you joined #go")
	bob.Send("first")
	bob.Send("/me second")
	waitLine(t, dave, "* bob second")
	bob.Send("/join #lobby")
	waitLine(t, bob, "now talking in #lobby")

	u := dialIRC(t, srv.IRC)
	u.Send("CAP REQ :batch server-time")
	u.Send("NICK alice")
	u.Send("USER alice 0 * :a")
	u.Send("CAP END")
	u.until(" 366 alice #lobby ")
	u.Send("JOIN #go")
	u.until(":alice!u@hubbub JOIN #go")
	open := u.until("BATCH +")
	id := strings.Fields(open)[2][1:]
	if !strings.HasSuffix(open, " chathistory #go") {
		t.Errorf("batch opened as %q", open)
	}
	for _, want := range []string{":bob!u@hubbub PRIVMSG #go :first", ":bob!u@hubbub PRIVMSG #go :\x01ACTION second\x01"} {
		line := u.ReadLine()
		if !strings.HasPrefix(line, "@batch="+id+";time=") || !strings.HasSuffix(line, want) {
			t.Errorf("got %q, want %q in batch %s", line, want, id)
		}
	}
	u.until("BATCH -" + id)
	u.until(" 366 alice #go ")

	// Without batch or server-time, the time is in front of the text.
	plain := registerIRC(t, srv.IRC, "plain")
	plain.Send("JOIN #go")
	line := plain.until("PRIVMSG #go :[20")
	if !strings.HasSuffix(line, "] first") {
		t.Errorf("got %q", line)
	}
}

// The ping and its timeout reach idle clients that hold no goroutine on the server: 200
// registered IRC clients wait with about none between them; each is pinged; those who answer
// stay, the others are closed for it.
func TestPingWhileParked(t *testing.T) {
	const users = 200
	const interval = 5 * time.Second
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) { c.PingInterval = interval })
	base := runtime.NumGoroutine()
	dialed := time.Now()
	us := make([]*ircUser, users)
	for i := range us {
		us[i] = dialIRC(t, srv.IRC)
		us[i].nick = fmt.Sprintf("u%d", i)
		us[i].Send("NICK " + us[i].nick)
		us[i].Send("USER u 0 * :u")
	}
	for _, u := range us {
		u.until(" 366 " + u.nick + " #lobby ")
	}
	pinged := false // perhaps: the first client registered at most this long ago
	chattest.WaitFor(t, "200 idle IRC clients holding fewer than 20 goroutines", func() bool {
		pinged = time.Since(dialed) >= interval
		return pinged || runtime.NumGoroutine() < base+users/10
	})
	if pinged {
		t.Fatalf("never fewer than %d goroutines before the first ping: a goroutine per idle client (or a machine too slow for this interval)", base+users/10)
	}
	for i, u := range us {
		u.until("PING :hubbub")
		if i%2 == 0 {
			u.Send("PONG :hubbub")
		}
	}
	for i, u := range us {
		if i%2 == 1 {
			u.ExpectClosed()
		}
	}
	for i, u := range us {
		if i%2 == 0 {
			u.sync()
		}
	}
	srv.Logs.WaitFor(t, "connection closed", "service=irc", "name=u1 ", `reason="ping timeout"`)
}
