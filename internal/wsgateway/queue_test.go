package wsgateway

import (
	"fmt"
	"testing"

	"hubbub/internal/connpolicy"
)

// TestQueueRing pushes, takes and skips across the ring's wrap and growth, and checks the
// order of what is left and that nothing removed is still referenced.
func TestQueueRing(t *testing.T) {
	var q outQueue
	var want []string
	next := 0
	push := func(k int, kind connpolicy.Kind) {
		t.Helper()
		for range k {
			b := fmt.Sprintf("f%d", next)
			next++
			q.push(queued{b: []byte(b), kind: kind})
			want = append(want, b)
		}
	}
	check := func(step string) {
		t.Helper()
		if q.len() != len(want) {
			t.Fatalf("%s: %d queued, want %d", step, q.len(), len(want))
		}
		size := 0
		for i, w := range want {
			if got := string(q.at(i).b); got != w {
				t.Fatalf("%s: frame %d is %q, want %q", step, i, got, w)
			}
			size += len(w)
		}
		if q.Size() != size {
			t.Fatalf("%s: size %d, want %d", step, q.Size(), size)
		}
		for i := q.len(); i < len(q.ring); i++ {
			if q.at(i).b != nil {
				t.Fatalf("%s: slot %d past the queue still holds %q", step, i, q.at(i).b)
			}
		}
	}
	take := func(k int) {
		t.Helper()
		for i := range k {
			q.size -= len(q.at(i).b)
		}
		q.drop(k)
		want = want[k:]
	}

	push(10, connpolicy.KindRoom)
	check("first pushes")
	take(7)
	check("after a partial take")
	push(12, connpolicy.KindRoom) // wraps around the 16-long ring
	check("wrapped")
	push(20, connpolicy.KindPrivate) // grows while wrapped
	check("grown")
	var b connpolicy.Backlog
	removed := q.SkipOldest(1<<20, connpolicy.KindRoom, &b)
	if removed != 15 {
		t.Fatalf("skipped %d room frames, want 15", removed)
	}
	want = want[15:]
	check("room frames skipped")
	take(len(want))
	check("emptied")
	if q.ring != nil {
		t.Fatal("an empty queue kept its ring")
	}
	push(3, connpolicy.KindRoom)
	q.reset()
	want = nil
	check("reset")

	// Pongs: one at most queued, answering the latest ping.
	push(2, connpolicy.KindRoom)
	q.pushPong([]byte("pong1"))
	want = append(want, "pong1")
	push(1, connpolicy.KindRoom)
	q.pushPong([]byte("pong-22"))
	want[2] = "pong-22"
	check("a second pong replaces the first")
	take(3)
	q.pushPong([]byte("pong3"))
	want = append(want, "pong3")
	check("once sent, the next ping gets a pong of its own")
}
