package lineproto

import (
	"slices"
	"strconv"

	"hubbub/internal/chat"
	"hubbub/internal/safetext"
)

// namedSenders is how many senders a notice of skipped private messages names; the rest are
// "others". A few names say whose messages to read back; a long list would flood the reader
// the notice is meant to spare.
const namedSenders = 3

// senders tallies private messages skipped and who they were from.
type senders struct {
	count  int
	names  []string // the first namedSenders senders, cleaned
	others bool     // some were from senders not named
}

func (s *senders) add(from string) {
	s.count++
	// Names are the chat's valid names already; cleaning them again costs little here, and
	// keeps this notice safe whatever the chat lets through one day.
	from = safetext.Truncate(safetext.CleanString(from), 4*chat.MaxNameLen)
	switch {
	case slices.Contains(s.names, from):
	case len(s.names) < namedSenders:
		s.names = append(s.names, from)
	default:
		s.others = true
	}
}

// privateSkips tallies the private messages skipped for a slow reader since it was last told.
type privateSkips struct {
	kept senders // kept in history: /history NAME reads them back
	lost senders // kept nowhere (no history, or --no-private-history)
}

func (p *privateSkips) add(pl privateLine) {
	if pl.kept {
		p.kept.add(pl.from)
	} else {
		p.lost.add(pl.from)
	}
}

// notices returns the lines that tell the reader what was skipped:
//
//	*** 37 private messages from bob, carol skipped: you read slower than they come; /history NAME to read them
//	*** 2 private messages from bob lost: you read slower than they come, and this server keeps no copy
func (p *privateSkips) notices() []byte {
	var b []byte
	if p.kept.count > 0 {
		b = p.kept.appendCount(b)
		b = append(b, " skipped: you read slower than they come; /history "...)
		if len(p.kept.names) == 1 && !p.kept.others {
			b = append(b, p.kept.names[0]...)
		} else {
			b = append(b, "NAME"...)
		}
		b = append(b, " to read them\r\n"...)
	}
	if p.lost.count > 0 {
		b = p.lost.appendCount(b)
		b = append(b, " lost: you read slower than they come, and this server keeps no copy\r\n"...)
	}
	return b
}

// appendCount appends "*** N private messages from A, B and others".
func (s *senders) appendCount(b []byte) []byte {
	b = strconv.AppendInt(append(b, "*** "...), int64(s.count), 10)
	if s.count == 1 {
		b = append(b, " private message from "...)
	} else {
		b = append(b, " private messages from "...)
	}
	for i, name := range s.names {
		switch {
		case i == 0:
		case i == len(s.names)-1 && !s.others:
			b = append(b, " and "...)
		default:
			b = append(b, ", "...)
		}
		b = append(b, name...)
	}
	if s.others {
		b = append(b, " and others"...)
	}
	return b
}
