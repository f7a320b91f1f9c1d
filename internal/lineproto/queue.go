package lineproto

import (
	"bytes"
	"slices"
	"sync"

	"hubbub/internal/connpolicy"
)

// chunkSize is the size of the blocks a connection's output is queued in.
const chunkSize = 1024

// lineKind says which output a block holds, and so when a slow reader may miss it (see
// connpolicy's slow-reader rule).
type lineKind = connpolicy.Kind

const (
	kindKept    = connpolicy.KindKept    // answers to the client's own commands, notices: never skipped
	kindRoom    = connpolicy.KindRoom    // room lines as they happen (chat.Message.Skippable): skipped past MaxQueue
	kindPrivate = connpolicy.KindPrivate // private messages to the client (chat.Message.PrivateFrom): skipped past the hard cap
)

type chunk struct {
	off, n int      // the bytes not yet written are b[off:n]
	kind   lineKind // what the block holds: only lines of one kind
	b      [chunkSize]byte
}

// chunks recycles output blocks between connections: a connection holds blocks only while it
// has output waiting, so an idle connection holds none.
//
// A join storm leaves tens of megabytes of blocks here, which a sync.Pool keeps until two
// collections have passed: once the server is quiet, memreturn runs those two (and returns
// the pages). A free list bounded at 1 MiB was tried in its place (2026-11-30): a fan-out of
// 100 users has more than that in flight, so the list missed, and the run collected three
// times as often (28 collections against 9) for the blocks it allocated again.
var chunks = sync.Pool{New: func() any { return new(chunk) }}

func putChunks(cs []*chunk) {
	for i, ch := range cs {
		ch.off, ch.n, ch.kind = 0, 0, kindKept
		chunks.Put(ch)
		cs[i] = nil
	}
}

// outQueue is a connection's output waiting for its writer: a byte stream in pooled blocks.
//
// A broadcast encodes its message once (chat.Message.Encoded) and the same bytes are copied into
// each recipient's queue, rather than queued by reference: a copy of a chat line costs about
// what a slice header does, the queue's memory is then exactly the bytes it holds (which is
// what MaxQueue bounds), and the writer hands the kernel a few large blocks per writev instead
// of one small iovec per line.
//
// So that the oldest chat lines can be skipped for a reader who falls behind, a block holds
// lines of one kind only (a block is started afresh where the kind changes, which in a busy
// room is rare), and the queue holds no partly written line: what a writer has begun to send
// is its own (see take). Each room line and private message is one line ending in LF (its text
// cannot hold one), so a run of blocks of one of those kinds splits into lines at each LF.
//
// Who sent each private message queued is kept beside the bytes (privates), oldest first, so
// that a reader can be told whose messages were skipped.
type outQueue struct {
	blocks []*chunk
	size   int // bytes queued

	privates []privateLine // the private messages queued, oldest first, from privates[head] on
	head     int
}

// privateLine is who a private message queued is from, and whether it can be read back.
type privateLine struct {
	from string
	kept bool // in history (chat.Message.ID != 0): /history NAME shows it
}

func (q *outQueue) write(p []byte, kind lineKind) {
	q.size += len(p)
	for len(p) > 0 {
		var last *chunk
		if n := len(q.blocks); n > 0 {
			last = q.blocks[n-1]
		}
		if last == nil || last.n == chunkSize || last.kind != kind {
			last = chunks.Get().(*chunk)
			last.kind = kind
			q.blocks = append(q.blocks, last)
		}
		k := copy(last.b[last.n:], p)
		last.n += k
		p = p[k:]
	}
}

// writePrivate queues a private message, one line, from pl.
func (q *outQueue) writePrivate(p []byte, pl privateLine) {
	q.write(p, kindPrivate)
	q.privates = append(q.privates, pl)
}

// popPrivates removes the senders of the n oldest private messages queued, telling skipped
// of each if it is not nil.
func (q *outQueue) popPrivates(n int, skipped func(from string, kept bool)) {
	n = min(n, len(q.privates)-q.head)
	if skipped != nil {
		for _, pl := range q.privates[q.head : q.head+n] {
			skipped(pl.from, pl.kept)
		}
	}
	clear(q.privates[q.head : q.head+n])
	q.head += n
	switch {
	case q.head == len(q.privates) && cap(q.privates) > 64:
		q.privates, q.head = nil, 0 // do not keep a large backlog's slice on an idle connection
	case q.head == len(q.privates):
		q.privates, q.head = q.privates[:0], 0
	case q.head > 64 && q.head > len(q.privates)/2:
		// A reader that never catches up would otherwise grow the slice without end.
		k := copy(q.privates, q.privates[q.head:])
		clear(q.privates[k:])
		q.privates, q.head = q.privates[:k], 0
	}
}

// take moves blocks from the front of q to the end of dst: at most max of them, and then what
// is left of the last line they hold (a few blocks at most, the last of them split), so that
// what stays starts with a whole line. It returns dst and how many bytes it moved.
func (q *outQueue) take(dst []*chunk, max int) ([]*chunk, int) {
	k := min(max, len(q.blocks))
	var tail *chunk // the end of a line cut in two, taken from block k
	for k > 0 && k < len(q.blocks) && q.blocks[k-1].kind != kindKept && q.blocks[k].kind == q.blocks[k-1].kind &&
		q.blocks[k-1].b[q.blocks[k-1].n-1] != '\n' {
		next := q.blocks[k]
		i := bytes.IndexByte(next.b[next.off:next.n], '\n')
		if i < 0 || next.off+i+1 == next.n {
			k++ // the line goes on past this block, or ends with it
			continue
		}
		tail = chunks.Get().(*chunk)
		tail.kind = next.kind
		tail.n = copy(tail.b[:], next.b[next.off:next.off+i+1])
		next.off += i + 1
		break
	}
	n, privates := 0, 0
	for _, ch := range q.blocks[:k] {
		n += ch.n - ch.off
		if ch.kind == kindPrivate {
			privates += bytes.Count(ch.b[ch.off:ch.n], newline)
		}
	}
	dst = append(dst, q.blocks[:k]...)
	if tail != nil {
		dst = append(dst, tail)
		n += tail.n
		if tail.kind == kindPrivate {
			privates++
		}
	}
	if privates > 0 {
		q.popPrivates(privates, nil) // sent: no longer a reader's to miss
	}
	q.blocks = slices.Delete(q.blocks, 0, k)
	if len(q.blocks) == 0 && cap(q.blocks) > 64 {
		q.blocks = nil // do not keep a large backlog's slice on an idle connection
	}
	q.size -= n
	return dst, n
}

var newline = []byte{'\n'}

// Size returns the bytes queued (connpolicy.Queue).
func (q *outQueue) Size() int { return q.size }

// SkipOldest removes whole lines of kind, oldest first, until at least need bytes are gone or
// none is left (connpolicy.Queue).
func (q *outQueue) SkipOldest(need int, kind connpolicy.Kind, b *connpolicy.Backlog) int {
	lines, _ := q.skipOldest(need, kind)
	if kind == kindPrivate && lines > 0 {
		q.popPrivates(lines, b.SkipPrivate)
	}
	return lines
}

// skipOldest removes whole lines of kind (kindRoom or kindPrivate), oldest first, until at
// least need bytes are gone or no such line is left, and returns how many lines and bytes it
// removed. Other output stays, in order. The caller takes the senders of private messages
// removed from popPrivates.
func (q *outQueue) skipOldest(need int, kind lineKind) (lines, removed int) {
	for i := 0; i < len(q.blocks) && removed < need; {
		if q.blocks[i].kind != kind {
			i++
			continue
		}
		// Cut lines from the front of the run of skippable blocks that starts at block i: the
		// cut so far ends at byte cutOff of block cutJ.
		cutJ, cutOff := i, q.blocks[i].off
		for removed < need {
			j, off, n, ended := cutJ, cutOff, 0, false
			for !ended && j < len(q.blocks) && q.blocks[j].kind == kind {
				ch := q.blocks[j]
				if k := bytes.IndexByte(ch.b[off:ch.n], '\n'); k >= 0 {
					n, off, ended = n+k+1, off+k+1, true
				} else {
					n, off = n+ch.n-off, ch.n
				}
				if off == ch.n {
					j++
					if j < len(q.blocks) {
						off = q.blocks[j].off
					}
				}
			}
			if !ended {
				break // the run ends without a line end: nothing queued is like that, but keep it whole
			}
			lines, removed, cutJ, cutOff = lines+1, removed+n, j, off
		}
		if cutJ < len(q.blocks) {
			q.blocks[cutJ].off = cutOff
		}
		putChunks(q.blocks[i:cutJ])
		q.blocks = slices.Delete(q.blocks, i, cutJ)
		for i < len(q.blocks) && q.blocks[i].kind == kind {
			i++ // what is left of this run could not be cut
		}
	}
	q.size -= removed
	return lines, removed
}

// reset drops what is queued.
func (q *outQueue) reset() {
	putChunks(q.blocks)
	q.blocks = nil
	q.size = 0
	clear(q.privates)
	q.privates, q.head = nil, 0
}
