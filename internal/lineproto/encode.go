package lineproto

import "hubbub/internal/chat"

// lineEncoding renders chat messages as the terminal lines of the original chat server.
type lineEncoding struct{}

// Encode implements chat.Encoder.
func (lineEncoding) Encode(m *chat.Message) []byte {
	var b []byte
	switch m.Kind {
	case chat.KindPrompt:
		b = append(b, "What's your name?"...)
	case chat.KindNameTaken:
		b = append(b, "name taken, please choose other"...)
	case chat.KindWelcome:
		b = append(append(append(b, "Welcome, "...), m.From...), '!')
	case chat.KindJoin:
		b = append(append(b, m.From...), " has joined the channel"...)
	case chat.KindLeave:
		b = append(append(b, m.From...), " has left the channel."...)
		if m.Text != "" {
			b = append(append(append(b, " ("...), m.Text...), ')')
		}
	case chat.KindChat:
		b = make([]byte, 0, len(m.From)+len(m.Text)+5)
		b = append(append(append(append(b, '<'), m.From...), "> "...), m.Text...)
	default:
		b = append(append(b, "* "...), m.Text...)
	}
	return append(b, '\r', '\n')
}
