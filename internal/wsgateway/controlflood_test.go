package wsgateway_test

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/wsgateway"
)

// dialRawSmall is dialRaw with a small receive buffer, so that a client that does not read
// fills its socket soon.
func dialRawSmall(t *testing.T, url string) *rawClient {
	t.Helper()
	return dialRawWith(t, url, &net.Dialer{Timeout: chattest.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}})
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// floodPings sends 125-byte pings for d, reading nothing, and returns how many bytes went.
func floodPings(t *testing.T, c *rawClient, d time.Duration) int {
	t.Helper()
	ping := frameBytes(true, 0x9, []byte(strings.Repeat("p", 125)), false)
	batch := make([]byte, 0, len(ping)*1000)
	for range 1000 {
		batch = append(batch, ping...)
	}
	sent := 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.nc.Write(batch)
		sent += n
		if err != nil {
			break
		}
	}
	return sent
}

// TestPingFloodIsBounded: a client that sends pings and reads nothing once had a pong queued
// for each (control frames are neither skipped nor counted against the slow-reader rule): one
// connection grew the server's heap by hundreds of megabytes a second. Only the latest ping is
// answered now (RFC 6455 5.5.3).
func TestPingFloodIsBounded(t *testing.T) {
	cfg := testConfig()
	g := startGateway(t, chat.DefaultConfig(), cfg)
	c := dialRawSmall(t, g.url)
	c.until("prompt")
	before := heapInUse()
	sent := floodPings(t, c, 1500*time.Millisecond)
	grew := int64(heapInUse()) - int64(before)
	t.Logf("sent %d MB of pings; the heap grew by %d KB", sent>>20, grew>>10)
	if limit := int64(16 << 20); sent > 4<<20 && grew > limit {
		t.Errorf("one connection's unread pongs hold %d MB", grew>>20)
	}
	if sent <= 4<<20 {
		t.Skipf("only %d bytes of pings went out: the server read too slowly to tell", sent)
	}
	// The pongs are still answered: the client reads the last one.
	c.nc.SetDeadline(time.Now().Add(chattest.Timeout))
	for {
		op, _, err := c.read()
		if err != nil {
			t.Fatalf("reading the pongs: %v", err)
		}
		if op == 0xA {
			return
		}
	}
}

// TestUnreadCloseFrameDropsTheConnection: a client told to go (a binary message: 1003, a
// break of the protocol: 1002) whose socket takes nothing, its close frame queued behind what
// it never read, was never closed: the write timeout found the connection already closing and
// did nothing, and the connection, its queue and its name stayed until the client left.
func TestUnreadCloseFrameDropsTheConnection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flood bool // fill the queue with pongs (before the fix, unbounded) rather than room lines
	}{{"room lines", false}, {"pings", true}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxQueue = 64 << 10
			cfg.WriteTimeout = 300 * time.Millisecond
			if tc.flood {
				cfg.WriteTimeout = time.Second // longer than the flood: the break is what ends it
			}
			g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) { s.SetTestSendBuffer(8 << 10) })
			c := dialRawSmall(t, g.url)
			c.until("prompt")
			c.line("stuck")
			c.until("welcome")
			if tc.flood {
				floodPings(t, c, 300*time.Millisecond)
			} else {
				talker := chattest.Join(t, g.lineAddr, "talker")
				listener := chattest.Join(t, g.lineAddr, "listener")
				talker.Expect("listener has joined the channel")
				filler := strings.Repeat("f", 900)
				var b strings.Builder
				for i := range 300 {
					fmt.Fprintf(&b, "%d %s\n", i, filler)
				}
				talker.Write(b.String())
				for i := 0; i < 300; {
					if strings.HasPrefix(listener.ReadLine(), "<talker> ") {
						i++
					}
				}
			}
			// The socket is full and the client reads nothing. Now it breaks a rule.
			c.frame(true, 0x2, []byte("{}"), false)
			g.logs.WaitFor(t, "connection closed", "name=stuck")
		})
	}
}
