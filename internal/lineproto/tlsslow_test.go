package lineproto_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// tlsSlowConfig is a door whose slow readers' sockets hold little unsent (16 KB, the least:
// accept.UnsentLimit) and whose write timeout is short, so that a test sees many.
func tlsSlowConfig() lineproto.Config {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = time.Second
	return cfg
}

// TestTLSSlowReaderStays: a TLS client that reads 8 KB/s, steadily, while its room floods is
// slow, not gone: it stays connected and keeps getting lines (some skipped) for five write
// timeouts. A TLS write that waits cannot be given more time after its deadline (the stream
// is broken then), so its deadline was WriteTimeout from its start: a 16 KB record waits for
// about that much to drain from a socket whose unsent bytes are bounded, and a reader slower
// than 16 KB a write timeout was dropped as one that takes nothing (found by the last
// session's review; the plain door kept it). At 8 KB/s, a record takes two write timeouts.
func TestTLSSlowReaderStays(t *testing.T) {
	cfg := tlsSlowConfig()
	srv := chattest.Start(t, cfg)
	addr, certFile := startTLSDoor(t, srv, cfg)
	link, err := chattest.SlowLinkDialer(8<<10)(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tlsClient(t, link, certFile)
	r := bufio.NewReader(conn)
	conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(conn, "slow\r\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, r, "Welcome, slow!")
	flooder := chattest.Join(t, srv.Addr, "flooder")
	readUntil(t, r, "flooder has joined the channel")
	flooder.Conn.SetReadDeadline(time.Time{})

	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)
	// Read for five write timeouts: many records wait for the socket meanwhile. What the
	// client's kernel holds takes it seconds to read after a drop, so the server's log says
	// whether it was dropped.
	flooded := 0
	for end := time.Now().Add(5 * cfg.WriteTimeout); time.Now().Before(end); {
		conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the slow reader was cut off: %v\n%s", err, srv.Logs)
		}
		if strings.Contains(line, "<flooder>") {
			flooded++
		}
	}
	if flooded == 0 {
		t.Fatal("the slow reader got no line of the flood")
	}
	srv.Logs.ExpectNoClose(t, "slow")
}

// TestTLSSilentReaderDropped: a TLS client that reads nothing while its room floods is closed
// for the write timeout, as on the plain door: moving a TLS write's deadline on while its
// socket drains must not keep one whose socket takes nothing.
func TestTLSSilentReaderDropped(t *testing.T) {
	cfg := tlsSlowConfig()
	srv := chattest.Start(t, cfg)
	addr, certFile := startTLSDoor(t, srv, cfg)
	conn := tlsClient(t, dialSmallWindow(t, addr), certFile)
	r := bufio.NewReader(conn)
	conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(conn, "silent\r\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, r, "Welcome, silent!")
	flooder := chattest.Join(t, srv.Addr, "flooder")
	readUntil(t, r, "flooder has joined the channel")
	chattest.FloodUntilLogged(t, flooder, srv.Logs, "connection closed", "name=silent", `reason="write timeout"`)
}
