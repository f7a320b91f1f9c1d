package natsbus

import (
	"encoding/json"
	"fmt"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/natsnode"
)

// What travels on NATS: chat events as JSON, kinds by name (their numbers are this binary's
// business, and nodes of two versions may meet during an upgrade). Subjects and keys carry user
// text only hex-encoded (docs/cluster.md).

// everyNode is the subject of events for every node (mutes, bans): hex never spells "all".
const everyNode = "hubbub.node.all"

func roomSubject(key string) string  { return natsnode.RoomSubject(key) }
func nodeSubject(node string) string { return natsnode.NodeSubject(node) }

// nameKey is the names bucket's key for one skeleton of a name.
func nameKey(skeleton string) string { return natsnode.Hex(skeleton) }

type wireEvent struct {
	ID    string       `json:"id"` // the publishing node's name and a number: also Nats-Msg-Id
	Room  string       `json:"room,omitempty"`
	Rooms []string     `json:"rooms,omitempty"`
	To    uint64       `json:"to,omitempty"`
	Msg   *wireMessage `json:"msg,omitempty"`
	Order *chat.Order  `json:"order,omitempty"`
	From  chat.Origin  `json:"from"`
}

type wireMessage struct {
	Kind    string    `json:"kind"`
	Room    string    `json:"room,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Text    string    `json:"text,omitempty"`
	Sent    bool      `json:"sent,omitempty"`
	History bool      `json:"history,omitempty"`
	ID      int64     `json:"mid,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

func encodeEvent(id string, ev chat.Event) ([]byte, error) {
	w := wireEvent{ID: id, Room: ev.Room, Rooms: ev.Rooms, To: ev.To, Order: ev.Order, From: ev.From}
	if m := ev.Msg; m != nil {
		w.Msg = &wireMessage{Kind: m.Kind.String(), Room: m.Room, From: m.From, To: m.To, Text: m.Text,
			Sent: m.Sent, History: m.History, ID: m.ID, Time: m.Time}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding an event: %w", err)
	}
	return b, nil
}

func decodeEvent(data []byte) (string, chat.Event, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return "", chat.Event{}, fmt.Errorf("decoding an event: %w", err)
	}
	ev := chat.Event{Room: w.Room, Rooms: w.Rooms, To: w.To, Order: w.Order, From: w.From}
	if m := w.Msg; m != nil {
		kind, ok := chat.ParseKind(m.Kind)
		if !ok {
			return "", chat.Event{}, fmt.Errorf("decoding an event: unknown kind %q", m.Kind)
		}
		ev.Msg = &chat.Message{Kind: kind, Room: m.Room, From: m.From, To: m.To, Text: m.Text,
			Sent: m.Sent, History: m.History, ID: m.ID, Time: m.Time}
	}
	if ev.Msg == nil && ev.Order == nil {
		return "", chat.Event{}, fmt.Errorf("decoding an event: neither a message nor an order")
	}
	return w.ID, ev, nil
}
