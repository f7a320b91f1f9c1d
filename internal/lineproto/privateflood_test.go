package lineproto_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// The attack of the finding, scaled down: attackers each send the victim private messages
// faster, together, than it reads, while it reads steadily.
const (
	attackers   = 4
	perAttacker = 40
	attackRate  = 20 // messages a second, each attacker
)

var attackFiller = strings.Repeat("x", 1000)

// privateFloodConfig has a small queue (a hard cap of 64 KiB) and a line rate the attackers
// stay within.
func privateFloodConfig() lineproto.Config {
	cfg := testConfig()
	cfg.MaxQueue = 16 << 10
	cfg.LineRate = 100
	cfg.LineBurst = 100
	cfg.WriteTimeout = 5 * time.Second
	return cfg
}

// attack has attackers (who read all they are sent) send the victim perAttacker private
// messages each, "/msg victim I N <filler>", and then "/msg victim end" from the first of them.
func attack(t *testing.T, addr string) {
	t.Helper()
	var clients []*chattest.Client
	for i := range attackers {
		c := chattest.Join(t, addr, fmt.Sprintf("attacker%d", i))
		c.Conn.SetReadDeadline(time.Time{})
		go io.Copy(io.Discard, c.Conn) // ends when the test closes the connection
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / attackRate)
			defer tick.Stop()
			for n := range perAttacker {
				<-tick.C
				c.Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
				if _, err := fmt.Fprintf(c.Conn, "/msg victim %d %d %s\r\n", i, n, attackFiller); err != nil {
					t.Errorf("attacker %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	clients[0].Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	fmt.Fprintf(clients[0].Conn, "/msg victim end\r\n")
}

// victim joins as "victim" with a small receive buffer, and reads at rate bytes a second (the
// test may change th.rate between reads).
func victim(t *testing.T, addr string, rate int) (conn net.Conn, th *throttled, r *bufio.Reader) {
	t.Helper()
	c := chattest.Join(t, addr, "victim")
	c.Conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	th = &throttled{conn: c.Conn, rate: rate}
	return c.Conn, th, bufio.NewReaderSize(th, 16<<10)
}

var privateNotice = regexp.MustCompile(`^\*\*\* (\d+) private messages? from ([^:]+) (skipped|lost): (.*)$`)

// readAttack reads what the victim was sent, up to the answer to a /who it sends after the
// attack's end (a notice of what was skipped once it caught up comes after the last message),
// and returns the private messages it got (by attacker), and the notices of those it did not.
func readAttack(t *testing.T, conn net.Conn, r *bufio.Reader) (got [attackers][]int, notices []string, told int) {
	t.Helper()
	for {
		line := readLine(t, r)
		switch m := privateNotice.FindStringSubmatch(line); {
		case line == "[PM from attacker0] end":
			conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
			fmt.Fprintf(conn, "/who\r\n")
			continue
		case line == "*** #lobby (5): victim, attacker0, attacker1, attacker2, attacker3":
			return got, notices, told
		case m != nil:
			n, _ := strconv.Atoi(m[1])
			told += n
			notices = append(notices, line)
			continue
		case strings.HasSuffix(line, "has joined the channel"):
			continue
		}
		var from, i, n int
		if _, err := fmt.Sscanf(line, "[PM from attacker%d] %d %d", &from, &i, &n); err != nil || from != i {
			t.Fatalf("unexpected line %.80q", line)
		}
		if l := len(got[from]); l > 0 && got[from][l-1] >= n {
			t.Fatalf("attacker %d: message %d after %d", from, n, got[from][l-1])
		}
		got[from] = append(got[from], n)
	}
}

// TestPrivateFloodSkipsPastHardCap is the finding's attack: attackers send a reader that
// reads steadily private messages faster than it reads. It is not dropped: past the hard cap
// the oldest private messages are skipped, it is told how many and from whom (the counts add
// up to what it missed) in at most two notices, and /history NAME shows every one of them.
func TestPrivateFloodSkipsPastHardCap(t *testing.T) {
	srv := startWithHistory(t, privateFloodConfig(), func(s *lineproto.Server) { s.SetTestSendBuffer(16 << 10) })
	conn, th, r := victim(t, srv.Addr, 16<<10)
	attack(t, srv.Addr)
	got, notices, told := readAttack(t, conn, r)

	missed := 0
	for i := range attackers {
		missed += perAttacker - len(got[i])
	}
	t.Logf("missed %d of %d private messages; told: %q", missed, attackers*perAttacker, notices)
	if missed == 0 {
		t.Fatal("nothing was skipped: the attack did not reach the hard cap")
	}
	if told != missed || len(notices) > 2 {
		t.Fatalf("%d private messages missed, %d told of in %d notices, want all told in at most 2", missed, told, len(notices))
	}
	for _, n := range notices {
		if m := privateNotice.FindStringSubmatch(n); m[3] != "skipped" || !strings.HasSuffix(n, "/history NAME to read them") ||
			!strings.HasPrefix(m[2], "attacker") {
			t.Fatalf("bad notice %q", n)
		}
	}

	// What was skipped is in history: read back, each attacker's messages are all there.
	th.rate = 1 << 40
	for i := range attackers {
		fmt.Fprintf(conn, "/history attacker%d %d\r\n", i, perAttacker+1)
		var seen []int
		for {
			line := readLine(t, r)
			if strings.HasPrefix(line, "*** end of history") {
				break
			}
			_, text, _ := strings.Cut(line, "] [PM from ")
			var from, j, n int
			if _, err := fmt.Sscanf(text, "attacker%d] %d %d", &from, &j, &n); err == nil && from == i && j == i {
				seen = append(seen, n)
			}
		}
		if len(seen) != perAttacker {
			t.Fatalf("/history attacker%d shows %d of its %d messages: %v", i, len(seen), perAttacker, seen)
		}
	}
	for _, l := range strings.Split(srv.Logs.String(), "\n") {
		if strings.Contains(l, "name=victim") && strings.Contains(l, "connection closed") {
			t.Fatalf("the victim was disconnected: %s", l)
		}
	}
}

// TestPrivateFloodLostWithoutHistory is the same attack on a server that keeps no private
// messages: those skipped cannot be read back, and the victim is told they are lost, and
// from whom, rather than nothing.
func TestPrivateFloodLostWithoutHistory(t *testing.T) {
	srv := chattest.Start(t, privateFloodConfig(), func(s *lineproto.Server) { s.SetTestSendBuffer(16 << 10) })
	conn, _, r := victim(t, srv.Addr, 16<<10)
	attack(t, srv.Addr)
	got, notices, told := readAttack(t, conn, r)

	missed := 0
	for i := range attackers {
		missed += perAttacker - len(got[i])
	}
	t.Logf("missed %d of %d private messages; told: %q", missed, attackers*perAttacker, notices)
	if missed == 0 || told != missed || len(notices) > 2 {
		t.Fatalf("%d private messages missed, %d told of in %d notices, want some, all told, in at most 2", missed, told, len(notices))
	}
	for _, n := range notices {
		if m := privateNotice.FindStringSubmatch(n); m[3] != "lost" || !strings.HasSuffix(n, "this server keeps no copy") {
			t.Fatalf("bad notice %q", n)
		}
	}
}
