package wsgateway_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/connpolicy"
	"hubbub/internal/wsgateway"
)

// counted is a client's socket that counts the bytes read from it.
type counted struct {
	net.Conn
	read atomic.Int64
}

func (c *counted) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// dialCounted dials url with a 16 KiB receive buffer (see dialSmallWindow), and returns the
// client and its socket, which counts what is read from it.
func dialCounted(t *testing.T, url string) (*client, *counted) {
	t.Helper()
	var sock *counted
	d := &net.Dialer{Timeout: chattest.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sock = &counted{Conn: nc}
		return sock, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := dial(t, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	return c, sock
}

// TestWriterHoldsCountAgainstTheHardCap is lineproto's test of the same name on the
// WebSocket door: a flush that finds the socket full hands the writer up to a megabyte, and
// those bytes count against the client's queue until written. A browser reads nothing while
// its room floods (its flushes held back, so that one takes a whole --max-queue of frames and
// leaves most to the writer), then asks for nearly the hard cap of answers: what the server
// holds for it, measured as what it reads once it reads less what the kernel held, never
// passes the hard cap and a block.
func TestWriterHoldsCountAgainstTheHardCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 128 << 10
	cfg.WriteTimeout = time.Minute // the reader reads nothing for a while: no write timeout here
	hardCap := connpolicy.HardCapFactor * cfg.MaxQueue
	g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) {
		s.SetTestSendBuffer(4 << 10)
		s.SetTestHold(300 * time.Millisecond)
	})
	victim, sock := dialCounted(t, g.url)
	victim.register("victim")
	// The answer to an unknown command is one event, whose size the flood of them below needs.
	before := sock.read.Load()
	victim.send("/nosuch")
	victim.expect(event{Kind: "notice", Text: "unknown command /nosuch, try /help"})
	answer := int(sock.read.Load() - before)

	watcher := chattest.Join(t, g.lineAddr, "watcher")
	victim.expect(event{Kind: "join", From: "watcher"})
	flooder := chattest.Join(t, g.lineAddr, "flooder")
	victim.expect(event{Kind: "join", From: "flooder"})
	watcher.Expect("flooder has joined the channel")
	flooder.Conn.SetReadDeadline(time.Time{})
	// From here the victim reads nothing until the end.

	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	// Three times --max-queue of lines: a held flush of the victim took a full queue.
	for seen := 0; seen < 3*cfg.MaxQueue/200; {
		if strings.Contains(watcher.ReadLine(), "<flooder>") {
			seen++
		}
	}
	close(stop)
	wait()

	// Answers to nearly the hard cap: all of them fit in the queue, and with what the writer
	// holds they pass the hard cap. The victim may be dropped meanwhile (a slow consumer):
	// then what it still sends fails.
	sendLine := func(text string) error {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		return victim.ws.Write(ctx, websocket.MessageText, []byte(`{"type":"line","text":"`+text+`"}`))
	}
	for range (hardCap - cfg.MaxQueue/8) / answer {
		if sendLine("/nosuch") != nil {
			break
		}
	}
	sendLine("done")
	for {
		line := watcher.ReadLine()
		if line == "<victim> done" || strings.HasPrefix(line, "victim has left") {
			break
		}
	}

	// Everything the server will do for the victim is done: its writer waits for the socket,
	// or it was dropped. What the kernel holds stops changing.
	kernel, last := 0, -1
	chattest.WaitFor(t, "the kernel's buffers to settle", func() bool {
		kernel = chattest.KernelHolds(t, sock.Conn)
		settled := kernel == last
		last = kernel
		return settled
	})
	start := sock.read.Load()
	watcher.Send("/msg victim END")
	for {
		e, err := victim.next()
		if err != nil || e.Kind == "private" && e.Text == "END" || strings.Contains(e.Text, "from watcher") {
			break
		}
	}
	held := int(sock.read.Load()-start) - kernel
	t.Logf("the server held %d bytes for the victim (hard cap %d), the kernel %d", held, hardCap, kernel)
	if held > hardCap+4096+512 { // a block, the private message and the notice of what was skipped
		t.Errorf("the server held %d bytes for a client that reads nothing, more than the hard cap %d and a block",
			held, hardCap)
	}
}
