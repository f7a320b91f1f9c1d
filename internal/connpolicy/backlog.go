package connpolicy

import (
	"strconv"

	"hubbub/internal/chat"
)

// The slow-reader rule, the same on every transport.
//
// A reader that makes progress is never dropped because others talk faster than it reads.
// Past MaxQueue the oldest room lines queued for it (chat.Message.Skippable) are skipped, just
// enough to make room, and a room line that still does not fit is itself skipped; it is told
// how many, where they were, with /history to catch up, once as it falls behind and, for those
// skipped after that, once more when it has caught up: the notices add up to every line missed. Other output is queued up to HardCapFactor times MaxQueue.
// Past that, private messages to it (chat.Message.PrivateFrom) are skipped too, oldest first,
// as they are what others can send it without end, and it is told how many and whose
// (chat.PrivateSkips): as soon as some are, and of those skipped after that once it has caught
// up. What is left past the hard cap is only what the client asked for itself (answers, each
// paged by the chat to fit well within MaxQueue): a client that asks for more than it reads,
// and no other, is dropped as a slow consumer, so that what a connection holds stays bounded.
//
// A writer that waits for a slow socket should take little of the queue at a time (see
// WriterBatch): what it has taken can no longer be skipped, and what it takes all of makes the
// reader look caught up.

// Kind says which output a queued line is, and so when a slow reader may miss it.
type Kind uint8

const (
	KindKept    Kind = iota // answers to the client's own commands, notices: never skipped
	KindRoom                // room lines as they happen: skipped past MaxQueue
	KindPrivate             // private messages to the client: skipped past the hard cap
)

// KindOf returns the kind of m, and for a private message whom it is from and whether it is
// kept in history (then /history FROM reads it back).
func KindOf(m *chat.Message) (kind Kind, from string, kept bool) {
	if m.Skippable() {
		return KindRoom, "", false
	}
	if from, ok := m.PrivateFrom(); ok {
		return KindPrivate, from, m.ID != 0
	}
	return KindKept, "", false
}

// Queue is a connection's output queue as the slow-reader rule sees it. Its lock is held
// whenever Admit calls it.
type Queue interface {
	// Size returns the bytes queued.
	Size() int
	// SkipOldest removes whole lines of kind (KindRoom or KindPrivate), oldest first, until at
	// least need bytes are gone or no such line is left, and returns how many lines it removed.
	// For each private message removed it calls b.SkipPrivate. Other output stays, in order.
	SkipOldest(need int, kind Kind, b *Backlog) (lines int)
}

// Verdict is what Admit decides for output that would take a queue past MaxQueue.
type Verdict uint8

const (
	Accept Verdict = iota // queue it
	Skip                  // leave it out: the client will be told
	Drop                  // the client is a slow consumer: close the connection
)

// Backlog is one connection's state under the slow-reader rule: what was skipped for it and
// whether it was told. The zero value is a reader that never fell behind. It is guarded by the
// connection's lock, like its queue.
type Backlog struct {
	skipped  int                // room lines skipped, not yet told
	told     bool               // told of room lines skipped, and not caught up since
	private  *chat.PrivateSkips // private messages skipped, not yet told; nil: none
	privTold bool               // told of private messages skipped, and not caught up since
}

// Admit applies the rule to n more bytes of kind (from and kept describe a private message)
// for q, whose size is compared with the limits of l. It makes room in q if it can, and says
// what to do with the n bytes, and how many lines it removed from q (for counters of queued
// messages).
func (b *Backlog) Admit(q Queue, l Limits, n int, kind Kind, from string, kept bool) (Verdict, int) {
	maxQueue, hardCap := l.MaxQueue, HardCapFactor*l.MaxQueue
	if q.Size()+n <= maxQueue {
		return Accept, 0
	}
	removed := q.SkipOldest(q.Size()+n-maxQueue, KindRoom, b)
	b.roomSkipped(removed)
	switch {
	case q.Size()+n <= maxQueue:
		return Accept, removed
	case kind == KindRoom:
		b.roomSkipped(1)
		return Skip, removed
	case q.Size()+n <= hardCap:
		return Accept, removed
	}
	removed += q.SkipOldest(q.Size()+n-hardCap, KindPrivate, b)
	switch {
	case q.Size()+n <= hardCap:
		return Accept, removed
	case kind == KindPrivate:
		b.SkipPrivate(from, kept)
		return Skip, removed
	}
	return Drop, removed
}

// MakeWay makes way in q for output that is not a room line (an answer to the reader's own
// command, a notice) while the reader is behind: room lines were skipped for it and its queue
// has not emptied since, or its socket is full (socketFull: it takes less than it is sent) and
// a quarter of l.MaxQueue waits for it. The room lines queued ahead of the output are skipped,
// all of them, and told at once, before it, where the gap is. A reader that asks something
// then waits only for what its socket holds, not for a queue of chatter it would read for
// seconds, at a slow link's pace for minutes, before the answer; the chatter is in /history.
// It returns how many lines it removed.
func (b *Backlog) MakeWay(q Queue, l Limits, socketFull bool) int {
	if b.skipped == 0 && !b.told && !(socketFull && q.Size() >= l.MaxQueue/4) {
		return 0
	}
	removed := q.SkipOldest(q.Size(), KindRoom, b)
	if removed > 0 {
		b.roomSkipped(removed)
		b.told = false // told now, not once the reader has caught up
	}
	return removed
}

// roomSkipped counts room lines skipped: those skipped before the reader is told go in the
// first notice of the stretch, those skipped after it in one more once it has caught up, so
// that the notices add up to every line it missed.
func (b *Backlog) roomSkipped(lines int) {
	b.skipped += lines
}

// SkipPrivate counts a private message from from skipped (kept: in history).
func (b *Backlog) SkipPrivate(from string, kept bool) {
	if b.private == nil {
		b.private = new(chat.PrivateSkips) // exists only while there is something to tell
	}
	b.private.Add(from, kept)
}

// Pending reports whether there are notices to send (see Due).
func (b *Backlog) Pending() bool {
	return b.skipped > 0 && !b.told || b.private != nil
}

// Due returns the notices to send before what a writer takes from the queue next, and counts
// them told; queueEmpty says that nothing is queued.
//
// Room lines skipped are told where they were (they were always the oldest queued), once per
// stretch of falling behind; those skipped after that are told once the reader has caught up
// (Taken(0) starts a new stretch, and they are the first notice of it). Private messages skipped are told as soon as there are some, and,
// as the client has no other way to learn whose they were, those skipped after that are told
// too, once it has caught up: at most two notices in a stretch, and none left out.
func (b *Backlog) Due(queueEmpty bool) []*chat.Message {
	var out []*chat.Message
	if b.skipped > 0 && !b.told {
		out = append(out, RoomSkipNotice(b.skipped))
		b.skipped, b.told = 0, true
	}
	if b.private != nil && (!b.privTold || queueEmpty) {
		out = append(out, b.private.Notices()...)
		b.private, b.privTold = nil, true
	}
	return out
}

// Taken is told how many bytes are left queued after a writer took from the queue: none
// means the reader has caught up, and is told again should it fall behind again.
func (b *Backlog) Taken(left int) {
	if left == 0 {
		b.told = false
		if b.private == nil {
			b.privTold = false
		}
	}
}

// RoomSkipNotice is the notice that n room lines were skipped for a slow reader.
func RoomSkipNotice(n int) *chat.Message {
	text := strconv.Itoa(n)
	if n == 1 {
		text += " line skipped"
	} else {
		text += " lines skipped"
	}
	return &chat.Message{Kind: chat.KindNotice, Text: text + ": you read slower than this room talks; /history to catch up"}
}

// WriterBatch is the most a writer waiting for a slow socket should take from a queue at a
// time, in bytes: an eighth of MaxQueue (32 KiB at the default). What it has taken can no
// longer be skipped, and a writer that took everything would make the reader look caught up
// (see Backlog.Taken) while it is still behind.
func (l Limits) WriterBatch() int {
	return max(l.MaxQueue/8, 1)
}
