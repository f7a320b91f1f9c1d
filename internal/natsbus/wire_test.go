package natsbus

import (
	"testing"
	"time"

	"hubbub/internal/chat"
)

// The record an event carries reaches the other nodes as the publishing node kept it, but for
// its ID, which is that node's own.
func TestWireCarriesRecord(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 7, time.UTC)
	for _, rec := range []chat.Record{
		{ID: 41, Time: at, Kind: chat.KindChat, Room: "#go", RoomName: "#Go", From: "alice", FromKey: "alice", Text: "hi\x1b[2J"},
		{ID: 42, Time: at, Kind: chat.KindAction, Room: "#go", RoomName: "#Go", From: "alice", FromKey: "alice", Text: "waves"},
		{ID: 43, Time: at, Kind: chat.KindPrivate, From: "alice", FromKey: "a1", To: "bob", ToKey: "a2", Text: "psst"},
	} {
		ev := chat.Event{Room: rec.Room, Msg: &chat.Message{Kind: rec.Kind, Text: rec.Text}, Record: &rec}
		data, err := encodeEvent("a.b00t.1", ev)
		if err != nil {
			t.Fatal(err)
		}
		id, got, err := decodeEvent(data)
		if err != nil {
			t.Fatal(err)
		}
		want := rec
		want.ID = 0
		if id != "a.b00t.1" || got.Record == nil || *got.Record != want {
			t.Errorf("%s %+v came as %s %+v", "a.b00t.1", want, id, got.Record)
		}
	}
	data, err := encodeEvent("a.b00t.2", chat.Event{Room: "#go", Msg: &chat.Message{Kind: chat.KindJoin}})
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := decodeEvent(data); err != nil || got.Record != nil {
		t.Errorf("an event with no record came with %+v, %v", got.Record, err)
	}
}

func TestPublishedBy(t *testing.T) {
	for _, tc := range []struct {
		id, node string
		want     bool
	}{
		{"a.b00t.1", "a", true},
		{"a.other.9z", "a", true}, // an earlier run of the same node
		{"a.b.b00t.1", "a", false},
		{"a.b.b00t.1", "a.b", true},
		{"ab.b00t.1", "a", false},
		{"b.b00t.1", "a", false},
		{"a", "a", false},
	} {
		if got := publishedBy(tc.id, tc.node); got != tc.want {
			t.Errorf("publishedBy(%q, %q) = %v, want %v", tc.id, tc.node, got, tc.want)
		}
	}
}
