package lineproto_test

import (
	"net"
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// TestLastLineBeforeLeaving: a line said just before leaving is shown before the leave. With
// a history, a line is shown once it is kept, but the leave was told at once: `printf
// 'bob\nbye\n' | nc -N host 8000` showed "bob has left" and then "<bob> bye".
func TestLastLineBeforeLeaving(t *testing.T) {
	for _, tc := range []struct {
		name  string
		then  string // sent right after the line, in the same write
		close bool   // then the client half-closes
		want  string // what the watcher is told after the line
	}{
		{"half-close", "", true, "bob has left"},
		{"quit", "/quit gone\r\n", false, "bob has left"},
		{"part", "/part\r\n", false, "bob has left"},
		{"nick", "/nick bobby\r\n", false, "bob is now known as bobby"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startWithHistory(t, testConfig())
			watcher := chattest.Join(t, srv.Addr, "watcher")
			watcher.Send("/join #talk")
			readPast(t, watcher, "*** you made #talk")
			bob := chattest.Join(t, srv.Addr, "bob")
			bob.Send("/join #talk")
			readPast(t, watcher, "bob has joined")
			bob.Write("last words\r\n" + tc.then)
			if tc.close {
				bob.Conn.(*net.TCPConn).CloseWrite()
			}
			line := readPast(t, watcher, "<bob> last words", tc.want)
			if line != "<bob> last words" {
				t.Fatalf("the watcher was told %q before bob's last line", line)
			}
			readPast(t, watcher, tc.want)
		})
	}
}

// readPast reads lines until one of wants, and returns it.
func readPast(t *testing.T, c *chattest.Client, wants ...string) string {
	t.Helper()
	for {
		line := c.ReadLine()
		for _, w := range wants {
			if strings.HasPrefix(line, w) {
				return line
			}
		}
	}
}
