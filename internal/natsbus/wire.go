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
	// Record is what the publishing node's history kept, for every node's to keep (index.go).
	Record *wireRecord `json:"record,omitempty"`
}

// wireRecord is a chat.Record without its ID, which is the publishing node's own.
type wireRecord struct {
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Room     string    `json:"room,omitempty"`
	RoomName string    `json:"room_name,omitempty"`
	From     string    `json:"from"`
	FromKey  string    `json:"from_key"`
	To       string    `json:"to,omitempty"`
	ToKey    string    `json:"to_key,omitempty"`
	Text     string    `json:"text"`
}

type wireMessage struct {
	Kind    string    `json:"kind"`
	Room    string    `json:"room,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Text    string    `json:"text,omitempty"`
	Sent    bool      `json:"sent,omitempty"`
	Notice  bool      `json:"notice,omitempty"`
	History bool      `json:"history,omitempty"`
	ID      int64     `json:"mid,omitempty"`
	Time    time.Time `json:"time,omitzero"`
}

func encodeEvent(id string, ev chat.Event) ([]byte, error) {
	w := wireEvent{ID: id, Room: ev.Room, Rooms: ev.Rooms, To: ev.To, Order: ev.Order, From: ev.From}
	if m := ev.Msg; m != nil {
		w.Msg = &wireMessage{Kind: m.Kind.String(), Room: m.Room, From: m.From, To: m.To, Text: m.Text,
			Sent: m.Sent, Notice: m.Notice, History: m.History, ID: m.ID, Time: m.Time}
	}
	if r := ev.Record; r != nil {
		w.Record = &wireRecord{Time: r.Time, Kind: r.Kind.String(), Room: r.Room, RoomName: r.RoomName,
			From: r.From, FromKey: r.FromKey, To: r.To, ToKey: r.ToKey, Text: r.Text}
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
			Sent: m.Sent, Notice: m.Notice, History: m.History, ID: m.ID, Time: m.Time}
	}
	if r := w.Record; r != nil {
		kind, ok := chat.ParseKind(r.Kind)
		if !ok {
			return "", chat.Event{}, fmt.Errorf("decoding an event: unknown kind %q of its record", r.Kind)
		}
		ev.Record = &chat.Record{Time: r.Time, Kind: kind, Room: r.Room, RoomName: r.RoomName,
			From: r.From, FromKey: r.FromKey, To: r.To, ToKey: r.ToKey, Text: r.Text}
	}
	if ev.Msg == nil && ev.Order == nil {
		return "", chat.Event{}, fmt.Errorf("decoding an event: neither a message nor an order")
	}
	return w.ID, ev, nil
}
