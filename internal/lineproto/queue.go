package lineproto

import (
	"bytes"
	"slices"
	"sync"
)

// chunkSize is the size of the blocks a connection's output is queued in.
const chunkSize = 1024

type chunk struct {
	off, n int  // the bytes not yet written are b[off:n]
	skip   bool // the block holds only lines a slow reader may miss (chat.Message.Skippable)
	b      [chunkSize]byte
}

// chunks recycles output blocks between connections: a connection holds blocks only while it
// has output waiting, so an idle connection holds none.
var chunks = sync.Pool{New: func() any { return new(chunk) }}

func putChunks(cs []*chunk) {
	for i, ch := range cs {
		ch.off, ch.n, ch.skip = 0, 0, false
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
// either only skippable lines or only other output (a block is started afresh where the kind
// changes, which in a busy room is rare), and the queue holds no partly written line: what a
// writer has begun to send is its own (see take). Each skippable message is one line ending in
// LF (its text cannot hold one), so a run of skippable blocks splits into lines at each LF.
type outQueue struct {
	blocks []*chunk
	size   int // bytes queued
}

func (q *outQueue) write(p []byte, skippable bool) {
	q.size += len(p)
	for len(p) > 0 {
		var last *chunk
		if n := len(q.blocks); n > 0 {
			last = q.blocks[n-1]
		}
		if last == nil || last.n == chunkSize || last.skip != skippable {
			last = chunks.Get().(*chunk)
			last.skip = skippable
			q.blocks = append(q.blocks, last)
		}
		k := copy(last.b[last.n:], p)
		last.n += k
		p = p[k:]
	}
}

// take moves blocks from the front of q to the end of dst: at most max of them, and then what
// is left of the last line they hold (a few blocks at most, the last of them split), so that
// what stays starts with a whole line. It returns dst and how many bytes it moved.
func (q *outQueue) take(dst []*chunk, max int) ([]*chunk, int) {
	k := min(max, len(q.blocks))
	var tail *chunk // the end of a line cut in two, taken from block k
	for k > 0 && k < len(q.blocks) && q.blocks[k-1].skip && q.blocks[k].skip &&
		q.blocks[k-1].b[q.blocks[k-1].n-1] != '\n' {
		next := q.blocks[k]
		i := bytes.IndexByte(next.b[next.off:next.n], '\n')
		if i < 0 || next.off+i+1 == next.n {
			k++ // the line goes on past this block, or ends with it
			continue
		}
		tail = chunks.Get().(*chunk)
		tail.skip = true
		tail.n = copy(tail.b[:], next.b[next.off:next.off+i+1])
		next.off += i + 1
		break
	}
	n := 0
	for _, ch := range q.blocks[:k] {
		n += ch.n - ch.off
	}
	dst = append(dst, q.blocks[:k]...)
	if tail != nil {
		dst = append(dst, tail)
		n += tail.n
	}
	q.blocks = slices.Delete(q.blocks, 0, k)
	if len(q.blocks) == 0 && cap(q.blocks) > 64 {
		q.blocks = nil // do not keep a large backlog's slice on an idle connection
	}
	q.size -= n
	return dst, n
}

// skipOldest removes whole skippable lines, oldest first, until at least need bytes are gone or
// no skippable line is left, and returns how many lines and bytes it removed. Other output
// stays, in order.
func (q *outQueue) skipOldest(need int) (lines, removed int) {
	for i := 0; i < len(q.blocks) && removed < need; {
		if !q.blocks[i].skip {
			i++
			continue
		}
		// Cut lines from the front of the run of skippable blocks that starts at block i: the
		// cut so far ends at byte cutOff of block cutJ.
		cutJ, cutOff := i, q.blocks[i].off
		for removed < need {
			j, off, n, ended := cutJ, cutOff, 0, false
			for !ended && j < len(q.blocks) && q.blocks[j].skip {
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
		for i < len(q.blocks) && q.blocks[i].skip {
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
}
