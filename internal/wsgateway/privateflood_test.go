package wsgateway_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/wsgateway"
)

var privateNotice = regexp.MustCompile(`^(\d+) private messages? from ([^:]+) (skipped|lost): (.*)$`)

// TestPrivateFloodSkipsPastHardCap is the finding's attack on a browser: telnet users send it
// private messages faster, together, than it reads, while it reads steadily. It is not
// dropped: past the hard cap the oldest private messages are skipped, it is told how many and
// from whom (the counts add up to what it missed) in at most two notices. Private messages
// are kept nowhere, so the notices say those skipped are lost.
func TestPrivateFloodSkipsPastHardCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 16 << 10 // a hard cap of 64 KiB
	cfg.WriteTimeout = 5 * time.Second
	g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) { s.SetTestSendBuffer(16 << 10) })

	victim := dialSmallWindow(t, g.url)
	victim.register("victim")
	victim.rate = 16 << 10

	const attackers, perAttacker, perSecond = 4, 80, 20
	defer chattest.PrivateFlood(t, g.lineAddr, "victim", attackers, perAttacker, perSecond)()

	// Up to the answer to a /who sent after the end: a notice of what was skipped once the
	// victim caught up comes after the last message.
	var got [attackers][]int
	var notices []string
	told := 0
	for done := false; !done; {
		e, err := victim.next()
		if err != nil {
			t.Fatalf("the victim was disconnected: %v (logs: %s)", err, g.logs)
		}
		m := privateNotice.FindStringSubmatch(e.Text)
		switch {
		case e.Kind == "private" && e.Text == "end":
			victim.send("/who")
		case e.Kind == "members":
			done = true
		case e.Kind == "join":
		case e.Kind == "notice" && m != nil:
			n, _ := strconv.Atoi(m[1])
			told += n
			notices = append(notices, e.Text)
			if m[3] != "lost" || !strings.HasPrefix(m[2], "attacker") || !strings.HasSuffix(e.Text, "this server keeps no copy") {
				t.Fatalf("bad notice %q", e.Text)
			}
		case e.Kind == "private":
			var i, n int
			if _, err := fmt.Sscanf(e.Text, "%d %d", &i, &n); err != nil || e.From != fmt.Sprint("attacker", i) {
				t.Fatalf("unexpected private message %+v", e)
			}
			if l := len(got[i]); l > 0 && got[i][l-1] >= n {
				t.Fatalf("attacker %d: message %d after %d", i, n, got[i][l-1])
			}
			got[i] = append(got[i], n)
		default:
			t.Fatalf("unexpected event %+v", e)
		}
	}
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

	if logs := g.logs.String(); strings.Contains(logs, "name=victim") {
		t.Fatalf("the victim was disconnected: %s", logs)
	}
}
