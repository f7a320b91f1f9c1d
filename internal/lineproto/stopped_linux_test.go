package lineproto_test

import (
	"bufio"
	"io"
	"regexp"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// stoppedTimeout is the write timeout of TestStoppedReaderDroppedAfterTimeout: long enough
// beside a loaded machine's scheduling that a drop at one and a half of it (the bound) is told
// from one at two (the old leniency).
const stoppedTimeout = 2 * time.Second

// TestStoppedReaderDroppedAfterTimeout: a client that reads a little, then stops, is dropped
// for the write timeout about one timeout after its last read, not two. A write that waits for
// a full socket had a deadline of one timeout from its start, set again when the kernel had
// sent something meanwhile: a client that took its last byte just after a write began kept
// its socket for two timeouts (the last session's tryout: 20 s at the default 10 s). Now the
// deadline moves to a timeout after each byte the client takes, looked at every quarter of it.
func TestStoppedReaderDroppedAfterTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.WriteTimeout = stoppedTimeout
	// A large send buffer without a bound on what it holds unsent: what the reader takes does
	// not make the socket writable, so the write that waits for it goes on waiting.
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestSendBuffer(256 << 10) })
	conn := dialSmallWindow(t, srv.Addr)
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(conn, "stopper\r\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, r, "Welcome, stopper!")
	flooder := chattest.Join(t, srv.Addr, "flooder")
	readUntil(t, r, "flooder has joined the channel")
	flooder.Conn.SetReadDeadline(time.Time{})
	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)

	// The kernel's buffers fill, and then stay as they are (the writer waits for the socket):
	// unchanged through ten of the flood's writes.
	last, since := -1, time.Now()
	chattest.WaitFor(t, "the socket to fill", func() bool {
		if n := chattest.KernelHolds(t, conn); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 100*time.Millisecond
	})
	// Read what the client's buffer holds, once: its window opens, the server sends that much
	// more, and the client takes nothing from then on.
	buf := make([]byte, 64<<10)
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	lastRead := time.Now()
	line := srv.Logs.WaitFor(t, "connection closed", "name=stopper", `reason="write timeout"`)
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
	// Not before it took nothing for the timeout (less the time the read took to return), and
	// within a timeout and a half: a quarter for the look that sees its last byte, the rest
	// for a loaded machine.
	if after < cfg.WriteTimeout*3/4 || after > cfg.WriteTimeout*3/2 {
		t.Errorf("dropped %v after its last read, want about the write timeout %v", after, cfg.WriteTimeout)
	}
}
