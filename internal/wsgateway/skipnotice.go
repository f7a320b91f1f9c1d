package wsgateway

import (
	"fmt"
	"slices"
	"strings"

	"hubbub/internal/chat"
	"hubbub/internal/safetext"
)

// The notice of private messages skipped says the same as on the line transport
// (lineproto/skipnotice.go): a browser is held to the same rule as a telnet user.

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

// privateSkips tallies the private messages skipped for a slow reader since it was last told.
type privateSkips struct {
	kept senders // kept in history: /history NAME reads them back
	lost senders // kept nowhere (no history, or --no-private-history)
}

func (p *privateSkips) add(from string, kept bool) {
	if kept {
		p.kept.add(from)
	} else {
		p.lost.add(from)
	}
}

// notices returns the texts that tell the reader what was skipped.
func (p *privateSkips) notices() []string {
	var texts []string
	if p.kept.count > 0 {
		name := "NAME"
		if len(p.kept.names) == 1 && !p.kept.others {
			name = p.kept.names[0]
		}
		texts = append(texts, p.kept.String()+" skipped: you read slower than they come; /history "+name+" to read them")
	}
	if p.lost.count > 0 {
		texts = append(texts, p.lost.String()+" lost: you read slower than they come, and this server keeps no copy")
	}
	return texts
}
