package main

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"hubbub/internal/chattest"
)

// TestNothingShownIsLostOnKill chats at full speed, kills the server with SIGKILL mid-stream,
// restarts it on the same data directory, and finds in the history, over the wire, every line
// that any client was shown. The database is then checked by SQLite itself.
func TestNothingShownIsLostOnKill(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "", "--data-dir", dir, "--line-rate", "0")
	addr := p.addrs["chat"]

	reader := chattest.Join(t, addr, "reader")
	const writers, perWriter = 3, 20000
	var conns []net.Conn
	for w := range writers {
		c := chattest.Join(t, addr, fmt.Sprintf("w%d", w))
		go io.Copy(io.Discard, c.Conn) // writers hear each other; they must read to stay
		conns = append(conns, c.Conn)
	}
	for w := range writers {
		reader.Expect(fmt.Sprintf("w%d has joined the channel", w))
	}
	var wg sync.WaitGroup
	for w, c := range conns {
		wg.Go(func() {
			bw := bufio.NewWriter(c)
			for n := range perWriter {
				if _, err := fmt.Fprintf(bw, "w%d says %d\r\n", w, n); err != nil {
					return // the server is gone
				}
			}
			bw.Flush()
		})
	}
	// Kill it while lines pour in: once the reader has been shown a few thousand.
	seen := map[string]bool{}
	reader.Conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	r := bufio.NewReader(reader.Conn)
	for len(seen) < 3000 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reader: %v after %d lines", err, len(seen))
		}
		seen[strings.TrimRight(line, "\r\n")] = true
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	// What the kernel had already received for the reader was shown too.
	reader.Conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		seen[strings.TrimRight(line, "\r\n")] = true
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()

	// Restart on the same directory and read the whole history back, page by page.
	p = startProc(t, "", "--data-dir", dir, "--replay", "0")
	checker := chattest.Join(t, p.addrs["chat"], "checker")
	stored := map[string]bool{}
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("history never ended")
		}
		checker.Send("/history 200")
		line := checker.ReadLine()
		if line == "*** no earlier history" {
			break
		}
		for ; !strings.HasPrefix(line, "*** end of history"); line = checker.ReadLine() {
			_, chat, ok := strings.Cut(line, "] ") // drop the time
			if !ok {
				t.Fatalf("history line %q has no time", line)
			}
			stored[chat] = true
		}
	}
	lost := 0
	for line := range seen {
		if strings.HasPrefix(line, "<w") && !stored[line] {
			lost++
			if lost <= 5 {
				t.Errorf("shown before the kill but not in history: %q", line)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d lines shown were lost (history has %d)", lost, len(seen), len(stored))
	}
	t.Logf("%d lines shown before the kill, %d in history", len(seen), len(stored))

	// Stop the second server cleanly, then let SQLite check the file.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "hubbub.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity_check: %q, %v", result, err)
	}
}

// TestBadDataDir starts hubbub on a data directory it cannot use: it exits non-zero at once
// with one error that names the path and says what is wrong.
func TestBadDataDir(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.MkdirAll(garbage, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbage, "hubbub.db"), []byte(strings.Repeat("not sqlite ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "file")
	if err := os.WriteFile(notDir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dataDir, reason string }{
		{notDir, "not a directory"},
		{garbage, "not a database"},
	} {
		out, err := exec.Command(binary, "--chat-addr", "127.0.0.1:0", "--quote-addr", "", "--echo-addr", "",
			"--data-dir", tt.dataDir).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("--data-dir %s: %v, want a non-zero exit", tt.dataDir, err)
		}
		text := string(out)
		if strings.Count(text, "level=ERROR") != 1 || !strings.Contains(text, tt.dataDir) || !strings.Contains(text, tt.reason) {
			t.Errorf("--data-dir %s said:\n%s\nwant one error with the path and %q", tt.dataDir, text, tt.reason)
		}
	}
}
