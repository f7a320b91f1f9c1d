package lineproto_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/sqlite"
)

// startWithHistory runs a chat that keeps its history in a real SQLite file.
func startWithHistory(t *testing.T, cfg lineproto.Config, setup ...func(*lineproto.Server)) *chattest.Server {
	t.Helper()
	store := sqlite.DefaultConfig(filepath.Join(t.TempDir(), "hubbub.db"))
	store.RetainEvery = 0
	s, err := sqlite.Open(t.Context(), store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // after the server's shutdown, which is registered later
	chatCfg := chat.DefaultConfig()
	chatCfg.History, chatCfg.Bans = s, s
	srv := chattest.StartChat(t, cfg, chatCfg, nil, setup...)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestAnswersPastMaxQueue has a client reading at full speed ask for more history than
// MaxQueue holds, on joining and with /history: it gets all of it and stays connected.
func TestAnswersPastMaxQueue(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 16 << 10
	srv := startWithHistory(t, cfg)
	said := sayLines(t, srv, 60) // of 1.5 KB: 90 KB, over MaxQueue, under 4 times it

	bob := chattest.Join(t, srv.Addr, "bob")
	// The replay on joining (20 lines, 30 KB), then the lines before it.
	got := readHistory(t, bob, "")
	bob.Send("/history 60")
	got = append(readHistory(t, bob, "*** end of history: nothing earlier"), got...)
	if len(got) != len(said) {
		t.Fatalf("got %d lines of history, want %d", len(got), len(said))
	}
	for i, line := range got {
		if !strings.HasSuffix(line, said[i]) {
			t.Fatalf("history line %d is %.60q, want %.60q", i, line, said[i])
		}
	}
	bob.Send("/who")
	bob.Expect("*** #lobby (3): alice, watcher, bob")
}

// sayLines has alice say n lines of 1.5 KB, and returns them as others see them live.
func sayLines(t *testing.T, srv *chattest.Server, n int) []string {
	t.Helper()
	alice := chattest.Join(t, srv.Addr, "alice")
	watcher := chattest.Join(t, srv.Addr, "watcher")
	alice.Expect("watcher has joined the channel")
	filler := strings.Repeat("h", 1500)
	var said []string
	for i := range n {
		alice.Send(fmt.Sprintf("%d %s", i, filler))
		said = append(said, fmt.Sprintf("<alice> %d %s", i, filler))
		// A line is shown only once it is kept: when watcher has them all, so has the history.
		// One at a time, as MaxQueue is small.
		watcher.Expect(said[i])
	}
	return said
}

// readHistory reads lines of history until end (or, for "", until the first line that is not
// history).
func readHistory(t *testing.T, c *chattest.Client, end string) []string {
	t.Helper()
	var got []string
	for {
		line := c.ReadLine()
		if line == end || end == "" && !strings.HasPrefix(line, "[") {
			return got
		}
		got = append(got, line)
	}
}

// TestHardCap has a client that asks for help again and again and never reads the answers:
// once what it asked for passes four times MaxQueue it is dropped as a slow consumer, without
// waiting for the write timeout.
func TestHardCap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 16 << 10
	cfg.WriteTimeout = time.Hour
	srv := chattest.Start(t, cfg, func(s *lineproto.Server) { s.SetTestSendBuffer(16 << 10) })
	greedy := chattest.Join(t, srv.Addr, "greedy")
	greedy.Write(strings.Repeat("/help\n", 1000)) // a MB or more of answers
	srv.Logs.WaitFor(t, "connection closed", "name=greedy", `reason="slow consumer"`)
}
