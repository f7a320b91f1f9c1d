package ircproto_test

import (
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
