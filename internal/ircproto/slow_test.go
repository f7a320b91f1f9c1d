package ircproto_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// An IRC client that stops reading is dropped by the line transport's rule (its socket took
// nothing for --write-timeout), and never holds up the room: an IRC reader and an nc reader
// beside it get every line.
func TestStuckIRCReaderDropped(t *testing.T) {
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) {
		c.MaxQueue = 64 << 10
		c.WriteTimeout = time.Second
	})
	stuck := registerIRC(t, srv.IRC, "stuck")
	stuck.Conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	reader := registerIRC(t, srv.IRC, "reader")
	nc := chattest.Join(t, srv.Addr, "nc")
	sender := chattest.Join(t, srv.Addr, "sender")

	text := strings.Repeat("x", 3900)
	const lines = 1500 // about 6 MB to each reader: more than the kernel buffers hold
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Bounded: a server that stops reading the sender fails the test, not hangs it.
		sender.Conn.SetWriteDeadline(time.Now().Add(time.Minute))
		for i := range lines {
			if _, err := fmt.Fprintf(sender.Conn, "%d %s\r\n", i, text); err != nil {
				return
			}
		}
	}()
	<-done
	sender.Send("the end")
	// A reader slower than the room may miss lines (it is told how many), never the last.
	reader.until(":sender!u@hubbub PRIVMSG #lobby :the end")
	waitLine(t, nc, "<sender> the end")
	srv.Logs.WaitFor(t, "connection closed", "service=irc", "name=stuck", `reason="write timeout"`)
}
