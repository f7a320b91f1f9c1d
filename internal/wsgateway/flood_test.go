package wsgateway_test

import (
	"fmt"
	"sync"
	"testing"

	"hubbub/internal/chattest"
)

// Several senders flooding one room at once: their lines reach a browser in turns (several to
// each member under one lock), all of them, each sender's in the order said.
func TestSendersFloodReachesBrowserInOrder(t *testing.T) {
	lineAddr, url := start(t, testConfig())
	browser := dial(t, url, nil)
	browser.expect(event{Kind: "prompt"})
	browser.send("browser")
	browser.expect(event{Kind: "welcome", From: "browser"})

	const senders, lines = 6, 1000
	talkers := make([]*chattest.Client, senders)
	for i := range talkers {
		talkers[i] = chattest.Join(t, lineAddr, fmt.Sprintf("sender%d", i))
	}
	for {
		e, err := browser.next()
		if err != nil {
			t.Fatalf("waiting for the last sender to join: %v", err)
		}
		if e.Kind == "join" && e.From == fmt.Sprintf("sender%d", senders-1) {
			break
		}
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range talkers {
		wg.Go(func() {
			<-start
			for n := range lines {
				fmt.Fprintf(c.Conn, "line %d\n", n)
			}
		})
	}
	close(start)
	next := make([]int, senders)
	for got := 0; got < senders*lines; {
		e, err := browser.next()
		if err != nil {
			t.Fatalf("got %d of %d lines (next of each sender %v): %v", got, senders*lines, next, err)
		}
		if e.Kind != "message" {
			continue
		}
		var from int
		if _, err := fmt.Sscanf(e.From, "sender%d", &from); err != nil {
			t.Fatalf("a line from %q", e.From)
		}
		if want := fmt.Sprintf("line %d", next[from]); e.Text != want {
			t.Fatalf("got %q from sender%d, want %q", e.Text, from, want)
		}
		next[from]++
		got++
	}
	wg.Wait()
}
