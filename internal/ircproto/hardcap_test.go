package ircproto_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// askLimits are small limits for the tests of what a client asks for: a queue of 16 KiB
// (answers are held up to a hard cap of 64 KiB), and no write timeout that could drop a client
// before the hard cap does.
func askLimits(c *lineproto.Config) {
	c.MaxQueue = 16 << 10
	c.WriteTimeout = time.Hour
}

// manyChannels makes rooms channels, each with a topic of 300 characters, and returns them:
// their LIST is larger than the hard cap of askLimits (360 of them: about 80 KB against 64 KiB).
func manyChannels(t *testing.T, addr string, rooms int) []string {
	t.Helper()
	const perOwner = 90
	var names []string
	for i := range rooms {
		names = append(names, fmt.Sprintf("#r%03d", i))
	}
	for o := 0; o*perOwner < rooms; o++ {
		own := names[o*perOwner : min((o+1)*perOwner, rooms)]
		u := registerIRC(t, addr, fmt.Sprintf("owner%d", o))
		u.Send("JOIN " + strings.Join(own, ","))
		for _, room := range own {
			u.Send("TOPIC " + room + " :" + strings.Repeat("t", 300))
		}
		u.sync() // every room made, every topic set
	}
	return names
}

// manyRoomsConfig lets a member be in enough rooms for manyChannels.
func manyRoomsConfig() chat.Config {
	cfg := chat.DefaultConfig()
	cfg.MaxRoomsPerUser = 100
	return cfg
}

// questions are commands whose answers are long, or come back whatever they ask, each with what
// ends its answer.
var questions = []struct{ ask, end string }{
	{"LIST", " 323 "},
	{"HELP", " 421 "},
	{"WHOIS owner0", " 318 "},
	{"NAMES #lobby", " 366 "},
	{"WHO #lobby", " 315 "},
	{"MOTD", " 422 "},
	{"VERSION", " 421 "},
	{"PING :" + strings.Repeat("p", 100), " PONG "},
}

// TestIRCAnswersFitTheQueue has an IRC client ask, again and again, what has long answers
// (LIST of more channels than the hard cap holds, WHOIS, NAMES, WHO...) and read each answer:
// it is never dropped, as each answer is bounded to fit its queue (the chat's rule: what a
// user asked for is paged to fit), and the LIST says how many channels it left out.
func TestIRCAnswersFitTheQueue(t *testing.T) {
	srv := start(t, manyRoomsConfig(), askLimits)
	rooms := manyChannels(t, srv.IRC, 360)

	reader := registerIRC(t, srv.IRC, "reader")
	for range 5 {
		for _, q := range questions {
			reader.Send(q.ask)
			end := reader.until(q.end)
			if q.ask == "LIST" && !strings.Contains(end, fmt.Sprintf(" of %d shown", len(rooms)+1)) {
				t.Fatalf("LIST of %d channels ends %q: it does not say how many it left out", len(rooms)+1, end)
			}
		}
	}
	// One channel is listed when asked for by name, whatever the others.
	reader.Send("LIST " + rooms[len(rooms)-1])
	if got := reader.until(" 322 reader "); !strings.Contains(got, " 322 reader "+rooms[len(rooms)-1]+" 1 :ttt") {
		t.Fatalf("LIST %s: got %q", rooms[len(rooms)-1], got)
	}
	reader.until(" 323 reader :End of /LIST")
	reader.sync()
	if strings.Contains(srv.Logs.String(), `reason="slow consumer"`) {
		t.Fatalf("a client that reads its answers was dropped:\n%s", srv.Logs)
	}
}

// TestIRCUnreadAnswersHaveACap is lineproto's TestHardCap on the IRC door: a client that asks
// again and again and never reads the answers (a small receive buffer, so that they stay on the
// server's side) is dropped as a slow consumer once they pass the hard cap, whatever it asks,
// PING included, without waiting for the write timeout.
func TestIRCUnreadAnswersHaveACap(t *testing.T) {
	srv := start(t, manyRoomsConfig(), askLimits)
	manyChannels(t, srv.IRC, 100)
	for i, q := range questions {
		t.Run(strings.Fields(q.ask)[0], func(t *testing.T) {
			nick := fmt.Sprintf("greedy%d", i)
			conn := dialSmallWindow(t, srv.IRC)
			conn.SetDeadline(time.Now().Add(chattest.Timeout))
			io.WriteString(conn, "NICK "+nick+"\r\nUSER "+nick+" 0 * :"+nick+"\r\n")
			r := bufio.NewReader(conn)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("registering: %v", err)
				}
				if strings.Contains(line, " 366 "+nick+" #lobby ") {
					break
				}
			}
			// 20,000 answers of 40 bytes or more: several times the hard cap with what the
			// kernel and a writer may hold besides (a writer takes up to the hard cap at
			// once). The writes stop once the connection is dropped.
			io.WriteString(conn, strings.Repeat(q.ask+"\r\n", 20000))
			srv.Logs.WaitFor(t, "connection closed", "service=irc", "name="+nick, `reason="slow consumer"`)
		})
	}
}

// TestIRCCommandFloodIsMuted is lineproto's TestFloodIsMuted on the IRC door, with commands:
// a client that goes on asking faster than the line rate is read more slowly, and once held
// back for FloodAfter without let-up it is muted, as a telnet user is.
func TestIRCCommandFloodIsMuted(t *testing.T) {
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) {
		c.LineRate, c.LineBurst, c.FloodAfter = 20, 5, 300*time.Millisecond
	})
	u := registerIRC(t, srv.IRC, "asker")
	u.Write(strings.Repeat("WHOIS asker\r\n", 100)) // small lines: the socket takes them all at once
	u.until(" NOTICE asker :you are sending too fast: muted for ")
}
