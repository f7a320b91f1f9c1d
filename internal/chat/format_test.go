package chat_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"hubbub/internal/chat"
)

// countingEncoder renders a message as its text with a mark, counting its calls.
type countingEncoder struct {
	mark  string
	calls atomic.Int64
}

func (e *countingEncoder) Encode(m *chat.Message) []byte {
	e.calls.Add(1)
	return []byte(e.mark + m.Text)
}

// TestEncodedOncePerFormat: a message is encoded once per Format and per plain Encoder, each
// gets its own bytes, and Formats past the slots every message keeps work as plain Encoders.
func TestEncodedOncePerFormat(t *testing.T) {
	var encs []*countingEncoder
	var all []chat.Encoder
	for i := range 7 { // more Formats than there are slots
		e := &countingEncoder{mark: fmt.Sprintf("f%d:", i)}
		encs = append(encs, e)
		all = append(all, chat.NewFormat(e))
	}
	plain := &countingEncoder{mark: "plain:"}
	encs = append(encs, plain)
	all = append(all, plain)

	m := &chat.Message{Kind: chat.KindChat, Text: "hi"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				for i, enc := range all {
					if got, want := string(m.Encoded(enc)), encs[i].mark+"hi"; got != want {
						t.Errorf("encoded %q, want %q", got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, e := range encs {
		// Goroutines that race on a message's first encoding may each make it; later calls
		// find it.
		if n := e.calls.Load(); n < 1 || n > 8 {
			t.Errorf("%s encoded %d times by 8 goroutines calling 100 times each", e.mark, n)
		}
	}
	calls := func() (n int64) {
		for _, e := range encs {
			n += e.calls.Load()
		}
		return n
	}
	before := calls()
	for _, enc := range all {
		m.Encoded(enc)
	}
	if calls() != before {
		t.Errorf("an encoding made before was made again")
	}
}
