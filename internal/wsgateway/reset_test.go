package wsgateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// TestLinesBeforeAReset: what a browser sent before it went with a reset (its socket closed
// with frames unread) is said, although writing to it fails meanwhile: a write that fails is
// the client gone, not the server sending it away. A tab closed right after a paste lost all
// but the first read's lines. At the line rate, for as long as a paste may take (the flood
// window): what it would take longer to say is not, and the connection is let go then.
func TestLinesBeforeAReset(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		rate, burst           int
		floodAfter            time.Duration // how long a paste may take (the linger of a client that went)
		rounds, lines, wantAt int           // wantAt: lines said at least (all of them when it is lines)
	}{
		{"full speed", 0, 0, 0, 5, 3000, 3000},
		{"a paste at the line rate", 50, 10, time.Minute, 2, 150, 150},
		{"past the paste's time", 10, 10, 2 * time.Second, 1, 200, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.LineRate, cfg.LineBurst, cfg.FloodAfter = float64(tc.rate), tc.burst, tc.floodAfter
			lineAddr, url := start(t, cfg)
			watcher, stop := chattest.TalkBesideNoise(t, lineAddr)
			defer stop()
			for i := range tc.rounds {
				name := fmt.Sprintf("leaver%d", i)
				pasteAndReset(t, url, watcher, name, tc.lines)
				reset := time.Now()
				n := 0
				for {
					line := readUntil(t, watcher, "<"+name+">", name+" has left", "*** ")
					if !strings.HasPrefix(line, "<"+name+">") {
						if n < tc.wantAt {
							t.Fatalf("the watcher was told %q after %d of %s's %d lines", line, n, name, tc.lines)
						}
						break
					}
					if want := fmt.Sprintf("<%s> %s line %d", name, name, n); line != want {
						t.Fatalf("the watcher was told %q, want %q", line, want)
					}
					n++
				}
				// Let go once a paste's time is over (2 s), not once the rest is said at the
				// line rate.
				if d := time.Since(reset); tc.lines > tc.wantAt && d > 6*time.Second {
					t.Errorf("%s was let go %v after it reset, having said %d lines", name, d.Round(time.Millisecond), n)
				}
			}
		})
	}
}

// pasteAndReset has a browser called name join #noise (whose talk fills its socket) and #talk
// (where its lines go, seen by watcher), send lines "NAME line N" in one write and go with a
// reset once its kernel sent them all.
func pasteAndReset(t *testing.T, url string, watcher *chattest.Client, name string, lines int) {
	t.Helper()
	c := dialRaw(t, url)
	c.line(name)
	c.line("/join #noise")
	c.line("/join #talk")
	readUntil(t, watcher, name+" has joined #talk")
	var b bytes.Buffer
	for n := range lines {
		msg, _ := json.Marshal(map[string]string{"type": "line", "text": fmt.Sprintf("%s line %d", name, n)})
		b.Write(frameBytes(true, 0x1, msg, false))
	}
	c.nc.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	if _, err := c.nc.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	chattest.WaitSent(t, c.nc) // a reset drops what the client's kernel still holds
	c.nc.(*net.TCPConn).SetLinger(0)
	c.nc.Close()
}

// readUntil reads lines until one that starts with one of wants, and returns it.
func readUntil(t *testing.T, c *chattest.Client, wants ...string) string {
	t.Helper()
	for {
		line := c.ReadLine()
		for _, w := range wants {
			if strings.HasPrefix(line, w) {
				return line
			}
		}
	}
}

// TestShutdownEndsWhatAGoneClientSays: a browser that went with a reset while its paste is
// still being said at the line rate does not hold the gateway's shutdown up (the tryout: a
// SIGTERM waited its whole timeout). The shutdown is start's cleanup, which fails the test
// when it does not finish within chattest.Timeout; the paste would take 100 s.
func TestShutdownEndsWhatAGoneClientSays(t *testing.T) {
	cfg := testConfig()
	cfg.LineRate, cfg.LineBurst, cfg.FloodAfter = 10, 10, time.Hour
	lineAddr, url := start(t, cfg)
	watcher, stop := chattest.TalkBesideNoise(t, lineAddr)
	defer stop()
	// Within what the sockets hold: the server reads at the line rate.
	pasteAndReset(t, url, watcher, "leaver", 1000)
	readUntil(t, watcher, "<leaver> leaver line 20") // said at the line rate from now on
}
