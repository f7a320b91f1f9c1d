package lineproto_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// TestLinesBeforeAReset: what a client wrote before it went with a reset (it closed its socket
// with output unread, or with SO_LINGER 0) is said, all of it, although writing to it fails
// meanwhile: a write that fails is the client gone, not the server sending it away, and what
// it said before it went is what its user wrote.
func TestLinesBeforeAReset(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	watcher := chattest.Join(t, srv.Addr, "watcher")
	watcher.Send("/join #talk")
	readPast(t, watcher, "*** you made #talk")
	talker := chattest.Join(t, srv.Addr, "talker")
	talker.Send("/join #noise")
	talker.Conn.SetReadDeadline(time.Time{})
	go io.Copy(io.Discard, talker.Conn) // ends when the test closes the connection
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() { // the server writes to each leaver all along: #noise talks
		var b strings.Builder
		for n := 0; n < 1_000_000; {
			select {
			case <-stop:
				return
			default:
			}
			b.Reset()
			for range 50 {
				n++
				fmt.Fprintf(&b, "noise %d\r\n", n)
			}
			talker.Conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
			if _, err := io.WriteString(talker.Conn, b.String()); err != nil {
				return
			}
		}
	})

	const rounds, lines = 5, 3000
	for i := range rounds {
		name := fmt.Sprintf("leaver%d", i)
		c := chattest.Join(t, srv.Addr, name)
		c.Send("/join #noise")
		c.Send("/join #talk") // where its lines go; #noise fills its socket meanwhile
		readPast(t, watcher, name+" has joined #talk")
		var b strings.Builder
		for n := range lines {
			fmt.Fprintf(&b, "%s line %d\r\n", name, n)
		}
		c.Write(b.String())
		chattest.WaitSent(t, c.Conn) // a reset drops what the client's kernel still holds
		c.Conn.(*net.TCPConn).SetLinger(0)
		c.Conn.Close()
		for n := 0; n < lines; {
			line := readPast(t, watcher, "<"+name+">", name+" has left", "*** ")
			if !strings.HasPrefix(line, "<"+name+">") {
				t.Fatalf("the watcher was told %q after %d of %s's %d lines", line, n, name, lines)
			}
			if want := fmt.Sprintf("<%s> %s line %d", name, name, n); line != want {
				t.Fatalf("the watcher was told %q, want %q", line, want)
			}
			n++
		}
	}
}
