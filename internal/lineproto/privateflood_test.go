package lineproto_test

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// The attack of the finding, scaled down: attackers each send the victim private messages
// faster, together, than it reads, while it reads steadily.
const (
	attackers   = 4
	perAttacker = 80
	attackRate  = 20 // messages a second, each attacker
)

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

// TestPrivateFloodLostWithoutHistory is the finding's attack: attackers send a reader that
// reads steadily private messages faster than it reads. It is not dropped: past the hard cap
// the oldest private messages are skipped, and as private messages are kept nowhere it is told
// that they are lost, how many and from whom (the counts add up to what it missed), rather
// than nothing.
func TestPrivateFloodLostWithoutHistory(t *testing.T) {
	srv := chattest.Start(t, privateFloodConfig(), func(s *lineproto.Server) { s.SetTestSendBuffer(16 << 10) })
	conn, _, r := victim(t, srv.Addr, 16<<10)
	wait := chattest.PrivateFlood(t, srv.Addr, "victim", attackers, perAttacker, attackRate)
	got, notices, told := readAttack(t, conn, r)
	wait()

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
