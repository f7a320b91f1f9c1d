package lineproto_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// A room's lines said at full speed reach every member who keeps reading, all of them, in order,
// the last one too: a connection held back between flushes because each carried many lines (a
// flood) is flushed again when its hold ends, whether or not more comes, and nothing is skipped
// for a reader that keeps up.
func TestFloodArrivesWhole(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	sender := chattest.Join(t, srv.Addr, "sender")
	const members, lines = 4, 3000
	readers := make([]*chattest.Client, members)
	for i := range readers {
		readers[i] = chattest.Join(t, srv.Addr, fmt.Sprintf("member%d", i))
	}
	for i := range readers[:members-1] {
		waitFor(t, readers[i], fmt.Sprintf("member%d has joined", members-1))
	}
	waitFor(t, sender, fmt.Sprintf("member%d has joined", members-1))

	var all strings.Builder
	for i := range lines {
		fmt.Fprintf(&all, "line %05d of the flood\n", i)
	}
	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			next := 0
			for next < lines {
				line, err := r.TryReadLine(chattest.Timeout)
				if err != nil {
					t.Errorf("member%d got %d of %d lines: %v", i, next, lines, err)
					return
				}
				if !strings.HasPrefix(line, "<sender> ") {
					continue
				}
				if want := fmt.Sprintf("<sender> line %05d of the flood", next); line != want {
					t.Errorf("member%d got %q, want %q", i, line, want)
					return
				}
				next++
			}
		})
	}
	sender.Write(all.String())
	wg.Wait()
}

// waitFor reads c's lines until one contains s.
func waitFor(t *testing.T, c *chattest.Client, s string) {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		line, err := c.TryReadLine(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %q: %v", s, err)
		}
		if strings.Contains(line, s) {
			return
		}
	}
}

// Several senders flooding one room at once: their lines are delivered in turns (the local
// bus's, several lines to each member under one lock), and every member who keeps reading gets
// every line of every sender, each sender's in the order said.
func TestSendersFloodArrivesInOrder(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	const senders, members, lines = 8, 3, 1500
	readers := make([]*chattest.Client, members)
	for i := range readers {
		readers[i] = chattest.Join(t, srv.Addr, fmt.Sprintf("member%d", i))
	}
	talkers := make([]*chattest.Client, senders)
	for i := range talkers {
		talkers[i] = chattest.Join(t, srv.Addr, fmt.Sprintf("sender%d", i))
	}
	last := fmt.Sprintf("sender%d has joined", senders-1)
	for _, c := range readers {
		waitFor(t, c, last)
	}
	for _, c := range talkers[:senders-1] {
		waitFor(t, c, last)
	}

	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Go(func() {
			next := make([]int, senders)
			for got := 0; got < senders*lines; {
				line, err := r.TryReadLine(chattest.Timeout)
				if err != nil {
					t.Errorf("member%d got %d of %d lines (next of each sender %v): %v", i, got, senders*lines, next, err)
					return
				}
				var from, n int
				if _, err := fmt.Sscanf(line, "<sender%d> line %d", &from, &n); err != nil {
					continue
				}
				if n != next[from] {
					t.Errorf("member%d got line %d of sender%d, want %d", i, n, from, next[from])
					return
				}
				next[from]++
				got++
			}
		})
	}
	start := make(chan struct{})
	for i, c := range talkers {
		var all strings.Builder
		for n := range lines {
			fmt.Fprintf(&all, "line %d of sender %d\n", n, i)
		}
		wg.Go(func() {
			<-start
			c.Write(all.String())
		})
	}
	close(start)
	wg.Wait()
}
