package lineproto

import (
	"fmt"
	"strings"
	"testing"

	"hubbub/internal/chat"
)

// queued returns what q holds, as text.
func queued(q *outQueue) string {
	var b strings.Builder
	for _, ch := range q.blocks {
		b.Write(ch.b[ch.off:ch.n])
	}
	return b.String()
}

func TestSkipOldest(t *testing.T) {
	long := strings.Repeat("L", 1500) + "\n" // spans blocks
	tests := []struct {
		name      string
		writes    []string // a leading "!" marks output that cannot be skipped
		need      int
		want      string
		wantLines int
	}{
		{"one line", []string{"a\n", "b\n", "c\n"}, 1, "b\nc\n", 1},
		{"whole lines only", []string{"aaaa\n", "b\n"}, 2, "b\n", 1},
		{"all", []string{"a\n", "b\n"}, 100, "", 2},
		{"others stay", []string{"!pm\n", "a\n", "!who\n", "b\n", "c\n"}, 4, "pm\nwho\nc\n", 2},
		{"nothing to skip", []string{"!pm\n", "!who\n"}, 4, "pm\nwho\n", 0},
		{"across blocks", []string{long, long, "x\n"}, 10, long + "x\n", 1},
		{"two long lines", []string{long, long, "x\n"}, 1502, "x\n", 2},
		{"long lines around others", []string{long, "!pm\n", long}, 3000, "pm\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q outQueue
			defer q.reset()
			for _, w := range tt.writes {
				text, keep := strings.CutPrefix(w, "!")
				kind := kindRoom
				if keep {
					kind = kindKept
				}
				q.write([]byte(text), kind)
			}
			lines, removed := q.skipOldest(tt.need, kindRoom)
			if got := queued(&q); got != tt.want || lines != tt.wantLines {
				t.Fatalf("left %q after %d lines, want %q after %d", got, lines, tt.want, tt.wantLines)
			}
			if q.size != len(tt.want) {
				t.Fatalf("size %d, holds %d", q.size, len(tt.want))
			}
			total := 0
			for _, w := range tt.writes {
				total += len(strings.TrimPrefix(w, "!"))
			}
			if removed != total-len(tt.want) {
				t.Fatalf("removed %d bytes, want %d", removed, total-len(tt.want))
			}
		})
	}
}

// TestTakeEndsAtLineEnd checks that what take leaves starts with a whole line, so that
// skipOldest never cuts a line a writer has begun to send.
func TestTakeEndsAtLineEnd(t *testing.T) {
	var q outQueue
	defer q.reset()
	line := strings.Repeat("x", 700) + "\n" // blocks end inside lines
	for range 10 {
		q.write([]byte(line), kindRoom)
	}
	batch, n := q.take(nil, 1)
	defer putChunks(batch)
	if n%len(line) != 0 {
		t.Fatalf("take moved %d bytes, not whole lines of %d", n, len(line))
	}
	if n+q.size != 10*len(line) {
		t.Fatalf("took %d, left %d of %d", n, q.size, 10*len(line))
	}
	if lines, _ := q.skipOldest(1, kindRoom); lines != 1 || q.size%len(line) != 0 {
		t.Fatalf("after take, skipOldest removed %d lines and left %d bytes", lines, q.size)
	}
}

// TestPrivatesFollowTheQueue checks that the senders kept beside the queue stay those of the
// private messages still queued, whether they leave it by take or by skipOldest.
func TestPrivatesFollowTheQueue(t *testing.T) {
	var q outQueue
	defer q.reset()
	long := strings.Repeat("p", 700) // blocks end inside lines
	for i := range 6 {
		q.write([]byte("room line\n"), kindRoom)
		q.writePrivate([]byte(fmt.Sprintf("%d %s\n", i, long)), privateLine{from: fmt.Sprint("s", i), kept: i%2 == 0})
		q.write([]byte("answer\n"), kindKept)
	}
	batch, _ := q.take(nil, 2) // a room line, the first private message, an answer, ...
	putChunks(batch)
	var got chat.PrivateSkips
	lines, _ := q.skipOldest(1, kindPrivate) // one line: the oldest private message left
	q.popPrivates(lines, got.Add)
	if lines != 1 || got.Count() != 1 {
		t.Fatalf("skipped %d private lines, tallied %+v", lines, got)
	}
	// What is left: the private messages after the one skipped, with their own senders.
	rest := q.privates[q.head:]
	text := queued(&q)
	for _, pl := range rest {
		i := strings.TrimPrefix(pl.from, "s")
		if !strings.Contains(text, i+" "+long) {
			t.Fatalf("sender %s is kept for a message no longer queued:\n%.200q", pl.from, text)
		}
	}
	if n := strings.Count(text, long); n != len(rest) {
		t.Fatalf("%d private messages queued, %d senders kept", n, len(rest))
	}
	skippedFrom := got.Senders()
	if strings.Contains(text, strings.TrimPrefix(skippedFrom[0], "s")+" "+long) {
		t.Fatalf("the message of %s was tallied but is still queued", skippedFrom[0])
	}
}
