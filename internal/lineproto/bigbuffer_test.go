package lineproto_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// TestSlowReaderWithABigSendBuffer: a socket shows writable only once its send buffer is a
// third empty, and Linux grows that buffer to megabytes. A reader taking 32 KB/s behind a full
// 2 MB buffer kept its socket from showing writable for longer than the write timeout while it read all along,
// and was dropped for the write timeout as a client that takes nothing (found by the tryout:
// every door, 11–13 s after a flood began). It stays now: what the kernel sends counts.
func TestSlowReaderWithABigSendBuffer(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = 4 * time.Second
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestSendBuffer(1 << 20) })
	// At 64 KB/s the reader frees a 64 KB segment of its window each second (loopback's MSS):
	// each write timeout sees the kernel send something, even on a loaded machine.
	_, r := slowReader(t, srv.Addr, "slow", 64<<10)
	flooder := chattest.Join(t, srv.Addr, "flooder")
	flooder.Conn.SetReadDeadline(time.Time{})
	go func() { // ends when the test closes the connection
		buf := make([]byte, 64<<10)
		for {
			if _, err := flooder.Conn.Read(buf); err != nil {
				return
			}
		}
	}()
	// 4 MB of lines: more than the kernel's buffers and the server's queue hold.
	filler := strings.Repeat("f", 200)
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "%d %s\r\n", i, filler)
	}
	flooder.Write(b.String())

	// Read for two write timeouts; then the reader must still be there.
	for end := time.Now().Add(2 * cfg.WriteTimeout); time.Now().Before(end); {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("the slow reader was cut off: %v\n%s", err, srv.Logs)
		}
	}
	if strings.Contains(srv.Logs.String(), "connection closed") {
		t.Fatalf("the slow reader's connection ended:\n%s", srv.Logs)
	}
}
