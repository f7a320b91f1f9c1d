package ircproto_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// promptly is how soon a slow reader in a flooded room must be told it missed lines, and get
// the answer to a command it sent during the flood: seconds, where the kernel's autotuned send
// buffer (megabytes) held its backlog for minutes.
const promptly = 5 * time.Second

// throttled reads from a connection no faster than rate bytes a second, as a slow link does.
type throttled struct {
	conn  net.Conn
	rate  int
	start time.Time
	total int
}

func (r *throttled) Read(p []byte) (int, error) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	r.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	n, err := r.conn.Read(p[:min(len(p), 16<<10)])
	r.total += n
	// A slow link: wait until the bytes read so far are due at rate.
	<-time.After(time.Until(r.start.Add(time.Duration(r.total) * time.Second / time.Duration(r.rate))))
	return n, err
}

// dialSmallWindow connects to addr with a small receive buffer, so that what a slow reader is
// behind by stays on the server's side, not in the client's kernel.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: chattest.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSlowIRCReaderAnsweredPromptly is lineproto's TestSlowReaderAnsweredPromptly on the IRC
// door: an IRC client that reads steadily but slower than its channel talks is told within
// seconds that it missed lines, and its WHOIS sent during the flood is answered within
// seconds, not after the megabytes the kernel would otherwise hold for it.
func TestSlowIRCReaderAnsweredPromptly(t *testing.T) {
	srv := start(t, chat.DefaultConfig(), func(c *lineproto.Config) {
		c.MaxQueue = 64 << 10
		c.WriteTimeout = 20 * time.Second
	})
	conn := dialSmallWindow(t, srv.IRC)
	r := bufio.NewReaderSize(&throttled{conn: conn, rate: 64 << 10}, 16<<10)
	send := func(line string) {
		conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
		io.WriteString(conn, line+"\r\n")
	}
	readUntil := func(part string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", part, err)
			}
			if strings.Contains(line, part) {
				return
			}
		}
	}
	send("NICK slow")
	send("USER slow 0 * :slow")
	readUntil(" 366 slow #lobby ")
	flooder := chattest.Join(t, srv.Addr, "flooder")
	readUntil(":flooder!")
	flooder.Conn.SetReadDeadline(time.Time{})

	stop := make(chan struct{})
	asked := make(chan time.Time, 1)
	begun := time.Now()
	wait := chattest.Flood(t, flooder.Conn, stop, func() {
		send("WHOIS flooder")
		asked <- time.Now()
	})
	defer wait()
	defer close(stop)

	var askedAt, toldAt, answeredAt time.Time
	var last string
	for toldAt.IsZero() || answeredAt.IsZero() {
		if askedAt.IsZero() {
			select {
			case askedAt = <-asked:
			default:
			}
		}
		now := time.Now()
		if toldAt.IsZero() && now.Sub(begun) > promptly {
			t.Fatalf("not told of lines skipped %v after the flood began (the last line read: %.60q)", now.Sub(begun).Round(time.Millisecond), last)
		}
		if !askedAt.IsZero() && answeredAt.IsZero() && now.Sub(askedAt) > promptly {
			t.Fatalf("no answer %v after WHOIS was sent (the last line read: %.60q)", now.Sub(askedAt).Round(time.Millisecond), last)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the slow reader: %v", err)
		}
		last = line
		switch {
		case toldAt.IsZero() && strings.Contains(line, " NOTICE ") && strings.Contains(line, " lines skipped: you read slower than this room talks"):
			toldAt = time.Now()
		case answeredAt.IsZero() && !askedAt.IsZero() && strings.Contains(line, " 318 slow flooder "):
			answeredAt = time.Now()
		}
	}
	t.Logf("told of lines skipped %v after the flood began; answered %v after asking",
		toldAt.Sub(begun).Round(time.Millisecond), answeredAt.Sub(askedAt).Round(time.Millisecond))
}
