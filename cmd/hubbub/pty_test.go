package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"hubbub/internal/chattest"
)

// terminal is a program running under a pseudo-terminal, as a user at a keyboard would run it.
type terminal struct {
	t      *testing.T
	master *os.File
	seen   int // how much of out the expectations have consumed

	mu      sync.Mutex
	out     bytes.Buffer  // everything the program printed; guarded by mu
	updated chan struct{} // signalled after out grows
}

func startPTY(t *testing.T, name string, args ...string) *terminal {
	t.Helper()
	cmd := exec.Command(name, args...)
	master, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start %s under a pty: %v", name, err)
	}
	term := &terminal{t: t, master: master, updated: make(chan struct{}, 1)}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			select {
			case term.updated <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		master.Close()
		<-readDone
	})
	return term
}

// expect waits until the program has printed want after what earlier expectations matched.
func (term *terminal) expect(want string) {
	term.t.Helper()
	deadline := time.After(chattest.Timeout)
	for {
		term.mu.Lock()
		rest := term.out.String()[term.seen:]
		term.mu.Unlock()
		if i := strings.Index(rest, want); i >= 0 {
			term.seen += i + len(want)
			return
		}
		select {
		case <-term.updated:
		case <-deadline:
			term.t.Fatalf("terminal never showed %q; it shows:\n%s", want, rest)
		}
	}
}

// typeLine types line and presses Enter.
func (term *terminal) typeLine(line string) {
	term.t.Helper()
	if _, err := term.master.WriteString(line + "\r"); err != nil {
		term.t.Fatalf("type %q: %v", line, err)
	}
}

// press types keys without pressing Enter.
func (term *terminal) press(keys string) {
	term.t.Helper()
	if _, err := term.master.WriteString(keys); err != nil {
		term.t.Fatalf("press %q: %v", keys, err)
	}
}

// shows reports whether the program has printed s at any time.
func (term *terminal) shows(s string) bool {
	term.mu.Lock()
	defer term.mu.Unlock()
	return strings.Contains(term.out.String(), s)
}
