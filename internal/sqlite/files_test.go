package sqlite_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hubbub/internal/sqlite"
)

// TestFilesArePrivate opens a store in an existing directory under several umasks: the
// database, its write-ahead log and its shared-memory file hold private messages, and are
// readable and writable by their owner only.
func TestFilesArePrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0o002, 0o000} {
		t.Run(fmt.Sprintf("umask %03o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)
			cfg := sqlite.DefaultConfig(filepath.Join(t.TempDir(), "hubbub.db"))
			cfg.RetainEvery = 0
			s := open(t, cfg)
			store(t, s, line("go", "alice", "a private matter", time.Now()))
			for _, suffix := range []string{"", "-wal", "-shm"} {
				fi, err := os.Stat(cfg.Path + suffix)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s is %v, want -rw-------", fi.Name(), fi.Mode().Perm())
				}
			}
		})
	}
}

// syncBuffer is a log's destination that the test reads while the store writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRepeatedFailuresLogOncePerInterval breaks checkpoints, which run every 500 ms: the
// failure is logged at once, then once per interval with how many failures it stands for, and
// once more when checkpoints work again.
func TestRepeatedFailuresLogOncePerInterval(t *testing.T) {
	cfg := testConfig(t)
	cfg.ErrorLogEvery = 3 * time.Second
	var logs syncBuffer
	s, err := sqlite.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	s.BreakCheckpoints()
	failures := regexp.MustCompile(`msg="history checkpoint failed" .* failures=(\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for len(failures.FindAllString(logs.String(), -1)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second log line in 30 s:\n%s", logs.String())
		}
		<-time.After(50 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := failures.FindAllStringSubmatch(logs.String(), -1)
	if got[0][1] != "1" || got[1][1] == "1" {
		t.Errorf("failures logged: %s and %s; want the first alone, the second standing for several", got[0][1], got[1][1])
	}
	if max := 1 + int(elapsed/cfg.ErrorLogEvery); len(got) > max {
		t.Errorf("%d lines in %v, logged every %v: want at most %d", len(got), elapsed, cfg.ErrorLogEvery, max)
	}
	if !strings.Contains(got[0][0], "database is closed") {
		t.Errorf("the log does not say what failed: %s", got[0][0])
	}
}
