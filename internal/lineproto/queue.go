package lineproto

import "sync"

// chunkSize is the size of the blocks a connection's output is queued in.
const chunkSize = 1024

type chunk struct {
	off, n int // the bytes not yet written are b[off:n]
	b      [chunkSize]byte
}

// chunks recycles output blocks between connections: a connection holds blocks only while it
// has output waiting, so an idle connection holds none.
var chunks = sync.Pool{New: func() any { return new(chunk) }}

func putChunks(cs []*chunk) {
	for i, ch := range cs {
		ch.off, ch.n = 0, 0
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
type outQueue struct {
	blocks []*chunk
	size   int // bytes queued
}

func (q *outQueue) write(p []byte) {
	q.size += len(p)
	for len(p) > 0 {
		var last *chunk
		if n := len(q.blocks); n > 0 {
			last = q.blocks[n-1]
		}
		if last == nil || last.n == chunkSize {
			last = chunks.Get().(*chunk)
			q.blocks = append(q.blocks, last)
		}
		k := copy(last.b[last.n:], p)
		last.n += k
		p = p[k:]
	}
}

// take moves every queued block to the end of dst and returns it, leaving q empty.
func (q *outQueue) take(dst []*chunk) []*chunk {
	dst = append(dst, q.blocks...)
	clear(q.blocks)
	q.blocks = q.blocks[:0]
	q.size = 0
	return dst
}

// prepend puts blocks taken earlier back in front of what is queued now. It copies the slice of
// blocks, which belongs to the caller.
func (q *outQueue) prepend(blocks []*chunk) {
	if len(blocks) == 0 {
		return
	}
	for _, ch := range blocks {
		q.size += ch.n - ch.off
	}
	merged := make([]*chunk, 0, len(blocks)+len(q.blocks))
	q.blocks = append(append(merged, blocks...), q.blocks...)
}

// reset drops what is queued.
func (q *outQueue) reset() {
	putChunks(q.blocks)
	q.blocks = nil
	q.size = 0
}
