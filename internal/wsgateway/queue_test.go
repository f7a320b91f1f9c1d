package wsgateway

import (
	"bytes"
	"fmt"
	"strings"
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

// TestQueueBlocks queues small frames of each kind, large ones and control frames, then skips
// and takes them: what is written is every frame left, whole and in order, a block holds frames
// of one kind only, the frames skipped are counted one by one (the notices add them up) even
// when a block is cut in the middle, and no block outlives its frames in the queue.
func TestQueueBlocks(t *testing.T) {
	type frame struct {
		b       []byte
		kind    connpolicy.Kind
		control bool
	}
	var q outQueue
	var want []frame
	frameOf := func(i, size int) []byte {
		t.Helper()
		text := fmt.Sprintf("%d ", i)
		return textFrame([]byte(text + strings.Repeat("x", max(size-len(text)-4, 0))))
	}
	next := 0
	push := func(k, size int, kind connpolicy.Kind) {
		t.Helper()
		for range k {
			f := frame{b: frameOf(next, size), kind: kind}
			next++
			if kind == connpolicy.KindPrivate {
				q.push(queued{b: f.b, kind: kind, from: "p"})
			} else {
				q.pushFrame(f.b, kind)
			}
			want = append(want, f)
		}
	}
	// check holds the queue's bytes to the frames wanted, and each block to one kind.
	check := func(step string) {
		t.Helper()
		var got, exp []byte
		size := 0
		for i := range q.len() {
			e := q.at(i)
			got = append(got, e.b...)
			frames := 1
			if e.blk != nil {
				frames = e.frames
				if cap(e.b) > blockSize {
					t.Fatalf("%s: entry %d overflows its block", step, i)
				}
			}
			for b := e.b; len(b) > 0; frames-- {
				b = b[frameLen(b):]
			}
			if frames != 0 {
				t.Fatalf("%s: entry %d says it holds %d frames more than it does", step, i, frames)
			}
			size += len(e.b)
		}
		for _, f := range want {
			exp = append(exp, f.b...)
		}
		if !bytes.Equal(got, exp) {
			t.Fatalf("%s: queued %d bytes differ from the %d wanted", step, len(got), len(exp))
		}
		if q.Size() != size {
			t.Fatalf("%s: size %d, want %d", step, q.Size(), size)
		}
	}
	skip := func(need int, kind connpolicy.Kind) int {
		t.Helper()
		var b connpolicy.Backlog
		removed, gone, left := q.SkipOldest(need, kind, &b), 0, want[:0]
		for _, f := range want {
			if f.kind == kind && !f.control && gone < need {
				gone += len(f.b)
				removed--
				continue
			}
			left = append(left, f)
		}
		if removed != 0 {
			t.Fatalf("skipping %d bytes of kind %d: %d frames counted more than skipped", need, kind, removed)
		}
		want = left
		return gone
	}

	push(5, 100, connpolicy.KindRoom)                // one block
	push(2, 100, connpolicy.KindKept)                // another: a block holds one kind
	push(12, maxCopiedFrame-10, connpolicy.KindRoom) // a block, then more past its end
	push(1, maxCopiedFrame+1, connpolicy.KindRoom)   // too large to copy: shared
	push(3, 100, connpolicy.KindRoom)
	push(2, 100, connpolicy.KindPrivate) // never copied: its sender goes with it
	q.pushPong([]byte("\x8a\x00"))
	want = append(want, frame{b: []byte("\x8a\x00"), control: true})
	push(4, 120, connpolicy.KindRoom)
	check("queued")
	if q.len() >= len(want)/2 {
		t.Fatalf("%d frames in %d entries: small frames were not gathered in blocks", len(want), q.len())
	}

	skip(250, connpolicy.KindRoom) // three frames from the front of the first block
	check("the first block cut")
	push(3, 100, connpolicy.KindRoom) // appended to the last block still
	check("pushed after a cut")
	skip(3*blockSize, connpolicy.KindRoom) // whole blocks, then part of one
	check("blocks skipped")
	skip(1<<20, connpolicy.KindRoom)
	check("every room frame skipped")
	skip(1<<20, connpolicy.KindPrivate)
	check("private frames skipped")

	// Taking: each entry's block goes to the taker, which gives it back once written.
	push(30, blockSize/8, connpolicy.KindRoom)
	var blks []*block
	for i := range q.len() {
		if e := q.at(i); e.blk != nil {
			blks = append(blks, e.blk)
		}
		q.size -= len(q.at(i).b)
	}
	q.drop(q.len())
	want = nil
	check("taken")
	if len(blks) < 3 || q.ring != nil {
		t.Fatalf("took %d blocks, ring %v: want the frames in blocks and an empty queue", len(blks), q.ring != nil)
	}
	putBlocks(blks)
	push(3, 100, connpolicy.KindKept)
	q.reset()
	want = nil
	check("reset")
}
