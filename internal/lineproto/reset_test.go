package lineproto_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// TestLinesBeforeAReset: what a client wrote before it went with a reset (it closed its socket
// with output unread, or with SO_LINGER 0) is said, although writing to it fails meanwhile: a
// write that fails is the client gone, not the server sending it away, and what it said before
// it went is what its user wrote. At the line rate, for as long as a paste may take (the flood
// window): what it would take longer to say is not, and the connection (its name, its socket)
// is let go then.
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
			srv := chattest.Start(t, cfg)
			watcher, stop := chattest.TalkBesideNoise(t, srv.Addr)
			defer stop()
			for i := range tc.rounds {
				name := fmt.Sprintf("leaver%d", i)
				pasteAndReset(t, srv.Addr, watcher, name, tc.lines)
				reset := time.Now()
				n := 0
				for {
					line := readPast(t, watcher, "<"+name+">", name+" has left", "*** ")
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

// TestShutdownEndsWhatAGoneClientSays: a client that went with a reset while its paste is
// still being said at the line rate does not hold the server's shutdown up (the tryout: 50 s
// of a bot's lines, then a SIGTERM that waited its whole timeout and cut everyone short).
func TestShutdownEndsWhatAGoneClientSays(t *testing.T) {
	cfg := testConfig()
	cfg.LineRate, cfg.LineBurst, cfg.FloodAfter = 10, 10, time.Hour
	srv := chattest.Start(t, cfg)
	watcher, stop := chattest.TalkBesideNoise(t, srv.Addr)
	defer stop()
	pasteAndReset(t, srv.Addr, watcher, "leaver", 3000)
	// Said at the line rate from now on, for 300 s.
	readPast(t, watcher, "<leaver> leaver line 20")
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := srv.Line.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// pasteAndReset has a client called name join #noise (whose talk fills its socket) and #talk
// (where its lines go, seen by watcher), write lines "NAME line N" in one paste and go with a
// reset once its kernel sent them all.
func pasteAndReset(t *testing.T, addr string, watcher *chattest.Client, name string, lines int) {
	t.Helper()
	c := chattest.Join(t, addr, name)
	c.Send("/join #noise")
	c.Send("/join #talk")
	readPast(t, watcher, name+" has joined #talk")
	var b strings.Builder
	for n := range lines {
		fmt.Fprintf(&b, "%s line %d\r\n", name, n)
	}
	c.Write(b.String())
	chattest.WaitSent(t, c.Conn) // a reset drops what the client's kernel still holds
	c.Conn.(*net.TCPConn).SetLinger(0)
	c.Conn.Close()
}
