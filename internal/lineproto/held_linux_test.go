package lineproto_test

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/connpolicy"
	"hubbub/internal/lineproto"
)

// TestWriterHoldsCountAgainstTheHardCap: when a flush finds a client's socket full, what the
// socket did not take goes to the client's writer, which waits for it; those bytes are still
// the client's output, waiting in the server. Counted out of the queue, they let a client that
// reads nothing hold the hard cap of answers besides (about twice it, with a flush of up to a
// thousand blocks), and its room lines were skipped later than --max-queue says. Here a client
// reads nothing while its room floods (its flushes held back, so that one takes a whole
// --max-queue of lines and leaves most to the writer), then asks for nearly the hard cap of
// answers. What the server holds for it, measured as what it reads once it reads, less what
// the kernel held, never passes the hard cap and a block.
func TestWriterHoldsCountAgainstTheHardCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 128 << 10
	cfg.WriteTimeout = time.Minute // the reader reads nothing for a while: no write timeout here
	hardCap := connpolicy.HardCapFactor * cfg.MaxQueue
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) {
		s.SetTestSendBuffer(4 << 10)
		s.SetTestHold(300 * time.Millisecond)
	})
	conn := dialSmallWindow(t, srv.Addr)
	r := bufio.NewReader(conn)
	send := func(text string) {
		t.Helper()
		conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
		if _, err := io.WriteString(conn, text); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	send("victim\r\n")
	readUntil(t, r, "Welcome, victim!")
	// The answer to an unknown command is one line, whose size the flood of them below needs.
	send("/nosuch\r\n")
	answer := len(readLine(t, r)) + 2
	watcher := chattest.Join(t, srv.Addr, "watcher")
	readUntil(t, r, "watcher has joined the channel")
	flooder := chattest.Join(t, srv.Addr, "flooder")
	readUntil(t, r, "flooder has joined the channel")
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
	// holds they pass the hard cap.
	var cmds strings.Builder
	for range (hardCap - cfg.MaxQueue/8) / answer {
		cmds.WriteString("/nosuch\r\n")
	}
	cmds.WriteString("done\r\n")
	send(cmds.String())
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
		kernel = chattest.KernelHolds(t, conn)
		settled := kernel == last
		last = kernel
		return settled
	})
	buffered := r.Buffered()
	watcher.Send("/msg victim END")
	read := 0
	for {
		conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
		line, err := r.ReadString('\n')
		read += len(line)
		if err != nil || strings.Contains(line, "END") || strings.Contains(line, "from watcher") {
			break
		}
	}
	held := read - buffered - kernel - len("*watcher* END\r\n")
	t.Logf("the server held %d bytes for the victim (hard cap %d), the kernel %d", held, hardCap, kernel)
	if held > hardCap+1024+256 { // a block, and the notice of what was skipped
		t.Errorf("the server held %d bytes for a client that reads nothing, more than the hard cap %d and a block",
			held, hardCap)
	}
}
