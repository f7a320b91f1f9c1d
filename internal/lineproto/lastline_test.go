package lineproto_test

import (
	"fmt"
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

// TestLastLineBeforeLeavingABusyRoom: in a busy room a line may be left for another sender to
// deliver (chat's turns); the sender's quit, part or rename, told through another order than
// the room's, must still come after it. Without a history, as the turns only take lines
// history did not keep.
func TestLastLineBeforeLeavingABusyRoom(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	watcher := chattest.Join(t, srv.Addr, "watcher")
	const flooders, leavers = 4, 30
	var fl []*chattest.Client
	for i := range flooders {
		fl = append(fl, chattest.Join(t, srv.Addr, fmt.Sprintf("flood%d", i)))
	}
	readPast(t, watcher, fmt.Sprintf("flood%d has joined", flooders-1))
	for _, c := range fl {
		defer chattest.KeepTalking(t, c)()
	}
	told := 0 // leavers whose last line the watcher was sure to see
	defer func() {
		if !t.Failed() && told < leavers/3 {
			t.Errorf("the watcher saw the last line of %d leavers of %d: too few to tell", told, leavers)
		}
	}()
	for i := range leavers {
		name := fmt.Sprintf("leaver%d", i)
		c := chattest.Join(t, srv.Addr, name)
		readPast(t, watcher, name+" has joined")
		then := []string{"/quit\r\n", "/nick " + name + "x\r\n"}[i%2]
		c.Write("last words of " + name + "\r\n" + then)
		line := readPast(t, watcher, "<"+name+"> last words", name+" has left", name+" is now known as", "*** ")
		for strings.HasPrefix(line, "*** ") && !strings.Contains(line, "lines skipped") {
			line = readPast(t, watcher, "<"+name+"> last words", name+" has left", name+" is now known as", "*** ")
		}
		switch {
		case strings.HasPrefix(line, "*** "):
			// The watcher fell behind and missed lines, perhaps this one: nothing to tell.
		case !strings.HasPrefix(line, "<"+name+">"):
			t.Fatalf("the watcher was told %q before %s's last line", line, name)
		default:
			told++
		}
		if i%2 == 1 {
			c.Send("/quit")
		}
	}
}
