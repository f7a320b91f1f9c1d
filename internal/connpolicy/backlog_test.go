package connpolicy

import (
	"fmt"
	"slices"
	"testing"

	"hubbub/internal/chat"
)

// lines is the simplest Queue: a list of lines of one size each. The transports' real queues
// are held to the same rule over the wire (lineproto's TestSlowReaderSkips, wsgateway's
// TestSlowReaderSkipsRoomLines and the private flood tests).
type lines []line

type line struct {
	kind Kind
	from string
	size int
}

func (q *lines) Size() int {
	n := 0
	for _, l := range *q {
		n += l.size
	}
	return n
}

func (q *lines) SkipOldest(need int, kind Kind, b *Backlog) int {
	removed, n := 0, 0
	*q = slices.DeleteFunc(*q, func(l line) bool {
		if l.kind != kind || removed >= need {
			return false
		}
		removed += l.size
		n++
		if kind == KindPrivate {
			b.SkipPrivate(l.from, false)
		}
		return true
	})
	return n
}

func (q *lines) add(b *Backlog, l Limits, kind Kind, from string) Verdict {
	v, _ := b.Admit(q, l, 10, kind, from, false)
	if v == Accept {
		*q = append(*q, line{kind, from, 10})
	}
	return v
}

// TestSlowReaderRule fills a queue of 100-byte MaxQueue with 10-byte lines, as a reader that
// reads nothing would: the oldest room lines make room, then room lines are skipped; private
// messages and answers fill up to the hard cap, then the oldest private messages make room,
// and only answers past the hard cap drop the client. It is told of each once per stretch.
func TestSlowReaderRule(t *testing.T) {
	lim := Limits{MaxQueue: 100}
	var b Backlog
	var q lines
	for range 10 {
		if v := q.add(&b, lim, KindRoom, ""); v != Accept {
			t.Fatalf("room line within MaxQueue: %v", v)
		}
	}
	if b.Pending() {
		t.Fatal("notices with nothing skipped")
	}
	// Past MaxQueue, the oldest room line makes room for each new one.
	for range 5 {
		if v := q.add(&b, lim, KindRoom, ""); v != Accept {
			t.Fatalf("room line past MaxQueue: %v", v)
		}
	}
	// Answers take the place of room lines, then go on up to the hard cap.
	for range 10 + 30 {
		if v := q.add(&b, lim, KindKept, ""); v != Accept {
			t.Fatalf("answer within the hard cap: %v", v)
		}
	}
	if v := q.add(&b, lim, KindRoom, ""); v != Skip {
		t.Fatalf("room line with no room line to skip: %v, want Skip", v)
	}
	if v := q.add(&b, lim, KindKept, ""); v != Drop {
		t.Fatalf("answer past the hard cap: %v, want Drop", v)
	}
	due := b.Due(false)
	if len(due) != 1 || due[0].Text != RoomSkipNotice(16).Text {
		t.Fatalf("notices %v, want one of 16 lines", texts(due))
	}
	// Told once a stretch: lines skipped after that are counted, and told once it catches up,
	// so that the notices add up to every line missed.
	q.add(&b, lim, KindRoom, "")
	if b.Pending() {
		t.Fatalf("told again in the same stretch: %v", texts(b.Due(false)))
	}
	b.Taken(0)
	if due := b.Due(true); len(due) != 1 || due[0].Text != RoomSkipNotice(1).Text {
		t.Fatalf("caught up, notices %v, want one of the 1 line skipped after the first", texts(due))
	}
	b.Taken(0)
	q = q[:0]
	for range 11 {
		q.add(&b, lim, KindRoom, "")
	}
	if due := b.Due(false); len(due) != 1 || due[0].Text != RoomSkipNotice(1).Text {
		t.Fatalf("after catching up, notices %v, want one of 1 line", texts(due))
	}

	// Private messages: queued to the hard cap, then the oldest make room, and the client is
	// told whose at once, and of those after, once it has caught up.
	b, q = Backlog{}, nil
	for i := range 40 {
		if v := q.add(&b, lim, KindPrivate, fmt.Sprintf("p%d", i%2)); v != Accept {
			t.Fatalf("private message %d within the hard cap: %v", i, v)
		}
	}
	for range 3 {
		q.add(&b, lim, KindPrivate, "p2")
	}
	want := "3 private messages from p0 and p1 lost: you read slower than they come, and this server keeps no copy"
	if due := b.Due(false); len(due) != 1 || due[0].Text != want {
		t.Fatalf("notices %v, want %q", texts(due), want)
	}
	q.add(&b, lim, KindPrivate, "p2")
	if due := b.Due(false); len(due) != 0 {
		t.Fatalf("told again before catching up: %v", texts(due))
	}
	if due := b.Due(true); len(due) != 1 {
		t.Fatalf("not told of the rest once caught up: %v", texts(due))
	}
}

// TestMakeWay: output that is not a room line skips the room lines queued ahead of it only while
// the reader is behind (lines were skipped for it, or its socket is full with a quarter of
// MaxQueue waiting), and they are told at once, before it.
func TestMakeWay(t *testing.T) {
	lim := Limits{MaxQueue: 100}
	var b Backlog
	q := lines{{KindRoom, "", 10}, {KindKept, "", 10}, {KindRoom, "", 10}}
	if n := b.MakeWay(&q, lim, false); n != 0 || len(q) != 3 {
		t.Fatalf("a reader not behind: %d lines skipped, %d left", n, len(q))
	}
	if n := b.MakeWay(&q, lim, true); n != 2 || len(q) != 1 || !b.Pending() {
		t.Fatalf("a full socket with 30 bytes of 100 waiting: %d lines skipped, %d left, pending %v", n, len(q), b.Pending())
	}
	if due := b.Due(false); len(due) != 1 || due[0].Text != RoomSkipNotice(2).Text {
		t.Fatalf("notices %v, want one of the 2 lines skipped to make way", texts(due))
	}
	b, q = Backlog{}, lines{{KindRoom, "", 10}, {KindKept, "", 10}}
	if n := b.MakeWay(&q, lim, true); n != 0 {
		t.Fatalf("a full socket with 20 bytes of 100 waiting: %d lines skipped", n)
	}
	for range 12 { // past MaxQueue: behind
		q.add(&b, lim, KindRoom, "")
	}
	b.Due(false) // told of the first
	if n := b.MakeWay(&q, lim, false); n != 9 || len(q) != 1 || q[0].kind != KindKept {
		t.Fatalf("a reader behind: %d lines skipped, left %v; want 9, the answer alone", n, q)
	}
	if due := b.Due(false); len(due) != 1 || due[0].Text != RoomSkipNotice(9).Text {
		t.Fatalf("notices %v, want one of the 9 lines skipped to make way, at once", texts(due))
	}
}

func texts(ms []*chat.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}
