package wsgateway

import (
	"bytes"
	"encoding/json"
	"time"

	"hubbub/internal/chat"
)

// event is one message to the browser, as JSON (see docs/protocol.md).
type event struct {
	Kind      string `json:"kind"`
	Room      string `json:"room,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Text      string `json:"text,omitempty"`
	ID        int64  `json:"id,omitempty"`
	Time      string `json:"time,omitempty"`
	History   bool   `json:"history,omitempty"`
	Elsewhere bool   `json:"elsewhere,omitempty"`
	Sent      bool   `json:"sent,omitempty"`

	Rooms   []roomInfo   `json:"rooms,omitempty"`
	Members []memberInfo `json:"members,omitempty"`
	Total   int          `json:"total,omitempty"`
}

type roomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	Topic   string `json:"topic,omitempty"`
}

type memberInfo struct {
	Name     string `json:"name"`
	Owner    bool   `json:"owner,omitempty"`
	Operator bool   `json:"operator,omitempty"`
	Away     string `json:"away,omitempty"`
}

// eventKind is the "kind" of m's event: the chat's name for its Kind (docs/protocol.md), but
// "message" for a chat line, as the protocol has always said, and "leave" for a quit and a
// kick, which the page shows as it always did.
func eventKind(k chat.Kind) string {
	switch k {
	case chat.KindChat:
		return "message"
	case chat.KindQuit, chat.KindKick:
		return "leave"
	}
	if _, ok := chat.ParseKind(k.String()); !ok {
		return "notice" // a number that is no Kind: said as the server speaking
	}
	return k.String()
}

// jsonEncoding renders chat messages as the JSON events of docs/protocol.md.
type jsonEncoding struct{}

// Encode implements chat.Encoder.
func (jsonEncoding) Encode(m *chat.Message) []byte {
	e := event{Kind: eventKind(m.Kind), Room: m.Room, From: m.From, To: m.To, Text: m.Text, ID: m.ID,
		History: m.History, Elsewhere: m.Elsewhere, Sent: m.Sent}
	if m.Kind == chat.KindKicked { // shown as the notice it always was
		e = event{Kind: "notice", Text: "you were kicked from " + m.Room + " by " + m.From}
		if m.Text != "" {
			e.Text += ": " + m.Text
		}
	}
	if m.Kind == chat.KindKick {
		e.To, e.Text = "", "kicked by "+m.To
		if m.Text != "" {
			e.Text += ": " + m.Text
		}
	}
	for _, r := range m.Rooms {
		e.Rooms = append(e.Rooms, roomInfo(r))
	}
	for _, who := range m.Members {
		e.Members = append(e.Members, memberInfo(who))
	}
	if m.Kind == chat.KindRooms || m.Kind == chat.KindMembers {
		e.Total = m.Total
	}
	if !m.Time.IsZero() {
		e.Time = m.Time.UTC().Format(time.RFC3339Nano)
	}
	// Not json.Marshal: it writes <, > and & as \u003c..., six bytes for one, which can make
	// a line six times its size in the client's queue. The page inserts text as text, so
	// there is nothing to escape for.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		// Every field is a string, a number or a bool: this cannot happen.
		panic("wsgateway: encode: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
}

// input is one message from the browser.
type input struct {
	Type string `json:"type"` // "line": a line typed, as a telnet user would type it
	Text string `json:"text"`
}
