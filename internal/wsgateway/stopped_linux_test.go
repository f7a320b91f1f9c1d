package wsgateway_test

import (
	"regexp"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/wsgateway"
)

// TestStoppedReaderDroppedAfterTimeout is lineproto's test of the same name on the WebSocket
// door: a browser that reads a little, then stops, is dropped for the write timeout about one
// timeout after its last read, not two.
func TestStoppedReaderDroppedAfterTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = 2 * time.Second // a drop at one and a half of it is told from one at two
	cfg.PingInterval = 0               // the timeout, not a missed pong, must end it
	// A large send buffer without a bound on what it holds unsent: what the reader takes does
	// not make the socket writable, so the write that waits for it goes on waiting.
	g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) { s.SetTestSendBuffer(256 << 10) })
	stopper, sock := dialCounted(t, g.url)
	stopper.register("stopper")
	flooder := chattest.Join(t, g.lineAddr, "flooder")
	stopper.expect(event{Kind: "join", From: "flooder"})
	flooder.Conn.SetReadDeadline(time.Time{})
	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)

	// The kernel's buffers fill, and then stay as they are (the writer waits for the socket):
	// unchanged through ten of the flood's writes.
	last, since := -1, time.Now()
	chattest.WaitFor(t, "the socket to fill", func() bool {
		if n := chattest.KernelHolds(t, sock.Conn); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 100*time.Millisecond
	})
	// Read what the client's buffer holds, once, from under the WebSocket: its window opens,
	// the server sends that much more, and the client takes nothing from then on.
	sock.Conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	if _, err := sock.Conn.Read(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	lastRead := time.Now()
	line := g.logs.WaitFor(t, "connection closed", "service=ws", "name=stopper", `reason="write timeout"`)
	m := regexp.MustCompile(`time=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no time in %q", line)
	}
	dropped, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	after := dropped.Sub(lastRead)
	t.Logf("dropped %v after its last read (write timeout %v)", after, cfg.WriteTimeout)
	if after < cfg.WriteTimeout*3/4 || after > cfg.WriteTimeout*3/2 {
		t.Errorf("dropped %v after its last read, want about the write timeout %v", after, cfg.WriteTimeout)
	}
}
