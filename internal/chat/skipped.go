package chat

import (
	"fmt"
	"slices"
	"strings"

	"hubbub/internal/safetext"
)

// namedSenders is how many senders a notice of skipped private messages names; the rest are
// "others". A few names say whose messages to read back; a long list would flood the reader
// the notice is meant to spare.
const namedSenders = 3

// PrivateSkips tallies the private messages a transport skipped for a reader that fell far
// behind (see Message.PrivateFrom), so that the reader is told how many and whose they were,
// in the same words on every transport.
type PrivateSkips struct {
	kept senders // kept in history: /history NAME reads them back
	lost senders // kept nowhere
}

// Add counts one private message from from skipped; kept says it is kept in history (its
// Message.ID is set).
func (p *PrivateSkips) Add(from string, kept bool) {
	if kept {
		p.kept.add(from)
	} else {
		p.lost.add(from)
	}
}

// Count returns how many private messages were skipped.
func (p *PrivateSkips) Count() int { return p.kept.count + p.lost.count }

// Senders returns the senders the notices name.
func (p *PrivateSkips) Senders() []string { return append(slices.Clone(p.kept.names), p.lost.names...) }

// Notices returns what tells the reader of the messages skipped:
//
//	37 private messages from bob, carol skipped: you read slower than they come; /history NAME to read them
//	2 private messages from bob lost: you read slower than they come, and this server keeps no copy
func (p *PrivateSkips) Notices() []*Message {
	var out []*Message
	if p.kept.count > 0 {
		name := "NAME"
		if len(p.kept.names) == 1 && !p.kept.others {
			name = p.kept.names[0]
		}
		out = append(out, &Message{Kind: KindNotice,
			Text: p.kept.String() + " skipped: you read slower than they come; /history " + name + " to read them"})
	}
	if p.lost.count > 0 {
		out = append(out, &Message{Kind: KindNotice,
			Text: p.lost.String() + " lost: you read slower than they come, and this server keeps no copy"})
	}
	return out
}

// senders tallies private messages skipped and who they were from.
type senders struct {
	count  int
	names  []string // the first namedSenders senders, cleaned
	others bool     // some were from senders not named
}

func (s *senders) add(from string) {
	s.count++
	// Names are valid names already; cleaning them again costs little here, and keeps this
	// notice safe whatever a transport passes one day.
	from = safetext.Truncate(safetext.CleanString(from), 4*MaxNameLen)
	switch {
	case slices.Contains(s.names, from):
	case len(s.names) < namedSenders:
		s.names = append(s.names, from)
	default:
		s.others = true
	}
}

// String says "N private messages from A, B and others".
func (s *senders) String() string {
	var b strings.Builder
	if s.count == 1 {
		b.WriteString("1 private message from ")
	} else {
		fmt.Fprintf(&b, "%d private messages from ", s.count)
	}
	for i, name := range s.names {
		switch {
		case i == 0:
		case i == len(s.names)-1 && !s.others:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(name)
	}
	if s.others {
		b.WriteString(" and others")
	}
	return b.String()
}
