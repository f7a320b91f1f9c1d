package chat_test

import (
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// untilLine reads c's lines until one contains every part, and returns it.
func untilLine(t *testing.T, c *chattest.Client, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		line, err := c.TryReadLine(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a line with %q: %v", parts, err)
		}
		if containsAll(line, parts) {
			return line
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// largeChat runs a chat whose rooms are large above 3 members, with an operator password.
func largeChat(t *testing.T) *chattest.Server {
	t.Helper()
	cfg := chat.DefaultConfig()
	cfg.AnnounceLimit = 3
	cfg.OperPassword = "sesame"
	srv, _ := chattest.StartOnClock(t, cfg)
	return srv
}

// joinHall registers name and joins #hall, reading up to its answer.
func joinHall(t *testing.T, addr, name string) *chattest.Client {
	t.Helper()
	c := chattest.Join(t, addr, name)
	c.Send("/join #hall")
	untilLine(t, c, "you joined #hall")
	return c
}

// In a room of more than --announce-limit members, an ordinary member's join, part and quit
// are told to nobody; the joiner is told once why; the owner's and operators' comings and
// goings, kicks and bans are told as ever; /who lists the moderators first with the count;
// and a room that shrinks to the limit announces again.
func TestLargeRoomAnnouncesOnlyModeration(t *testing.T) {
	srv := largeChat(t)
	owen := chattest.Join(t, srv.Addr, "owen")
	owen.Send("/join #hall")
	untilLine(t, owen, "you made #hall")
	ann := joinHall(t, srv.Addr, "ann")
	owen.Expect("ann has joined the channel", "ann has joined #hall")
	bea := joinHall(t, srv.Addr, "bea")
	owen.Expect("bea has joined the channel", "bea has joined #hall")

	// The fourth: neither #lobby nor #hall is told, and the joiner is told why, once a room.
	cal := chattest.Join(t, srv.Addr, "cal")
	cal.Expect("*** #lobby has 4 members: its members' joins and leaves are not shown here, only its owner's and operators'; /who lists who moderates it, /whois NAME finds anyone")
	cal.Send("/join #hall")
	cal.Expect("*** #hall has 4 members: its members' joins and leaves are not shown here, only its owner's and operators'; /who lists who moderates it, /whois NAME finds anyone",
		"*** you joined #hall (4 here): plain lines now go there")
	bea.Send("after cal came")
	owen.Expect("<bea> after cal came")
	cal.Expect("<bea> after cal came") // a member of a large room still hears its lines

	// An operator's join is told: the room knows who may moderate it.
	dot := chattest.Join(t, srv.Addr, "dot")
	untilLine(t, dot, "#lobby has 5 members")
	dot.Send("/oper sesame")
	untilLine(t, dot, "you are now an operator")
	dot.Send("/join #hall")
	untilLine(t, dot, "#hall has 5 members")
	owen.Expect("dot has joined #hall")

	// An ordinary member's part is not.
	cal.Send("/part")
	untilLine(t, cal, "you left #hall")
	bea.Send("after cal left")
	owen.Expect("<bea> after cal left")

	owen.Send("/who")
	owen.Expect("*** #hall (4): owen (owner), dot (operator), ann, bea")
	ann.Send("/who")
	untilLine(t, ann, "*** #hall (4): owen (owner), dot (operator), ann, bea")

	// The operator's part is told; #hall is back at the limit, and announces again.
	dot.Send("/part #hall")
	owen.Expect("dot has left #hall.")
	ann.Send("/part")
	owen.Expect("ann has left #hall.")
	cal.Send("/join #hall")
	owen.Expect("cal has joined #hall")

	// Large again (ann is back, not told); a kick is told all the same.
	ann.Send("/join #hall")
	untilLine(t, ann, "you joined #hall")
	owen.Send("/kick ann enough")
	owen.Expect("ann has left #hall. (kicked by owen: enough)")
	untilLine(t, bea, "ann has left #hall. (kicked by owen: enough)")

	// A quit of an ordinary member is not told in a large room, a ban is.
	eve := joinHall(t, srv.Addr, "eve")
	eve.Send("/quit")
	eve.ExpectClosed()
	chattest.WaitFor(t, "eve to leave the chat", func() bool { users, _ := srv.Hub.Counts(); return users == 5 })
	bea.Send("after eve quit")
	owen.Expect("<bea> after eve quit")
	fay := joinHall(t, srv.Addr, "fay")
	bea.Send("fay is here")
	owen.Expect("<bea> fay is here")
	dot.Send("/ban fay")
	fay.ExpectClosed()
	owen.Expect("fay has left the channel. (banned)")
}

// /who of a large room lists at most 50: its moderators, then the one asking, then those
// there longest, and says how many there are; /whois finds anyone in it; /rooms counts all.
func TestLargeRoomWhoBounded(t *testing.T) {
	srv := largeChat(t)
	var users []*chattest.Client
	for i := range 55 {
		users = append(users, chattest.Join(t, srv.Addr, "u"+itoa(i)))
	}
	users[52].Send("/oper sesame") // an operator already in the room is listed first
	untilLine(t, users[52], "you are now an operator")
	last := users[54]
	last.Send("/who")
	line := untilLine(t, last, "*** #lobby (")
	want := "*** #lobby (55): u52 (operator), u54, u0, u1, "
	if !strings.HasPrefix(line, want) || !strings.HasSuffix(line, ", u47, and 5 more") {
		t.Fatalf("/who of 55 said %q, want it to start %q and end with u47 and 5 more", line, want)
	}
	last.Send("/whois u53")
	untilLine(t, last, "*** u53: in #lobby")
	last.Send("/rooms")
	last.Expect("*** 1 rooms:", "***   #lobby (55)")
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
