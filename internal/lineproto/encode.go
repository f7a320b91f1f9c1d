package lineproto

import (
	"fmt"
	"strings"

	"hubbub/internal/chat"
)

// lineEncoding renders chat messages as terminal lines, in the original chat server's words
// where it had any.
type lineEncoding struct{}

// Encode implements chat.Encoder.
func (lineEncoding) Encode(m *chat.Message) []byte {
	b := make([]byte, 0, len(m.Room)+len(m.From)+len(m.To)+len(m.Text)+42)
	if m.History {
		// Times of history are shown in UTC: the server does not know the user's zone.
		b = append(m.Time.UTC().AppendFormat(append(b, '['), "2006-01-02 15:04"), "] "...)
	}
	if m.Elsewhere {
		b = append(append(append(b, '['), m.Room...), "] "...)
	}
	switch m.Kind {
	case chat.KindPrompt:
		b = append(b, "What's your name?"...)
	case chat.KindNameTaken:
		b = append(b, "name taken, please choose other"...)
	case chat.KindWelcome:
		b = append(append(append(b, "Welcome, "...), m.From...), '!')
	case chat.KindJoin:
		b = append(b, m.From...)
		if m.Room == chat.Lobby {
			b = append(b, " has joined the channel"...)
		} else {
			b = append(append(b, " has joined "...), m.Room...)
		}
	case chat.KindLeave, chat.KindQuit, chat.KindKick:
		// A part, a quit and a kick read alike here: the seed's words.
		b = append(b, m.From...)
		if m.Room == chat.Lobby {
			b = append(b, " has left the channel."...)
		} else {
			b = append(append(append(b, " has left "...), m.Room...), '.')
		}
		if m.Kind == chat.KindKick {
			b = append(append(b, " (kicked by "...), m.To...)
			if m.Text != "" {
				b = append(append(b, ": "...), m.Text...)
			}
			b = append(b, ')')
		} else if m.Text != "" {
			b = append(append(append(b, " ("...), m.Text...), ')')
		}
	case chat.KindChat:
		b = append(append(append(append(b, '<'), m.From...), "> "...), m.Text...)
	case chat.KindAction:
		b = append(append(append(append(b, "* "...), m.From...), ' '), m.Text...)
	case chat.KindPrivate:
		if m.Sent {
			b = append(append(append(append(b, "[PM to "...), m.To...), "] "...), m.Text...)
		} else {
			b = append(append(append(append(b, "[PM from "...), m.From...), "] "...), m.Text...)
		}
	case chat.KindNick:
		b = append(append(append(b, m.From...), " is now known as "...), m.Text...)
	case chat.KindTopic:
		if m.Text == "" {
			b = append(append(append(b, m.From...), " cleared the topic of "...), m.Room...)
		} else {
			b = append(append(b, m.From...), " set the topic of "...)
			b = append(append(append(b, m.Room...), ": "...), m.Text...)
		}
	case chat.KindKicked:
		b = append(append(append(append(b, "*** you were kicked from "...), m.Room...), " by "...), m.From...)
		if m.Text != "" {
			b = append(append(b, ": "...), m.Text...)
		}
	case chat.KindCurrent, chat.KindAway, chat.KindOwner:
		// A notice says the first in words (and the third, to the new owner); the second /who
		// and /whois show when asked, so that a terminal is not filled with comings and goings.
		return nil
	case chat.KindSecretPrompt:
		// Offer to echo, so that a telnet client stops showing what is typed; the server then
		// echoes nothing. nc shows these three bytes as they are.
		b = append(append(append(b, iac, will, optEcho), "*** "...), m.Text...)
	case chat.KindSecretDone:
		return append(b, iac, wont, optEcho)
	case chat.KindRooms:
		return appendRooms(b, m)
	case chat.KindMembers:
		return appendMembers(b, m)
	default:
		b = append(append(b, "*** "...), m.Text...)
	}
	return append(b, '\r', '\n')
}

// appendRooms renders a room list as notice lines: "*** 2 rooms:", "***   #go (3): topic".
func appendRooms(b []byte, m *chat.Message) []byte {
	b = fmt.Appendf(b, "*** %d rooms:\r\n", m.Total)
	for _, r := range m.Rooms {
		b = fmt.Appendf(b, "***   %s (%d)", r.Name, r.Members)
		if r.Topic != "" {
			b = append(append(b, ": "...), r.Topic...)
		}
		b = append(b, '\r', '\n')
	}
	if more := m.Total - len(m.Rooms); more > 0 {
		b = fmt.Appendf(b, "***   and %d more\r\n", more)
	}
	return b
}

// appendMembers renders a member list as a notice line, "*** #go (3): alice (owner), bob (away)",
// then a line for each away text.
func appendMembers(b []byte, m *chat.Message) []byte {
	b = fmt.Appendf(b, "*** %s (%d): ", m.Room, m.Total)
	for i, who := range m.Members {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, who.Name...)
		var tags []string
		if who.Owner {
			tags = append(tags, "owner")
		}
		if who.Operator {
			tags = append(tags, "operator")
		}
		if who.Away != "" {
			tags = append(tags, "away")
		}
		if len(tags) > 0 {
			b = append(append(append(b, " ("...), strings.Join(tags, ", ")...), ')')
		}
	}
	if more := m.Total - len(m.Members); more > 0 {
		b = fmt.Appendf(b, ", and %d more", more)
	}
	b = append(b, '\r', '\n')
	// Away texts are free text: each goes on a line of its own after the list, so that none
	// can pass for more of the list ("x), admin (operator").
	for _, who := range m.Members {
		if who.Away != "" {
			b = append(append(append(append(append(b, "***   "...), who.Name...), " is away: "...), who.Away...), '\r', '\n')
		}
	}
	return b
}
