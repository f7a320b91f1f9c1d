package sqlite_test

import (
	"database/sql"
	"testing"
	"time"

	"hubbub/internal/chat"
)

// storedWords are the words the history database has kept each kind under since its first
// version: a database written yesterday must read the same today.
var storedWords = []struct {
	kind chat.Kind
	word string
}{
	{chat.KindChat, "chat"}, {chat.KindAction, "action"}, {chat.KindTopic, "topic"},
	{chat.KindJoin, "join"}, {chat.KindLeave, "leave"}, {chat.KindNick, "nick"},
	{chat.KindPrivate, "private"},
}

// TestKindsAreStoredByTheirWords stores a line of each kind the chat keeps and reads the
// database's rows with SQL of its own: each kind is under the word it always was.
func TestKindsAreStoredByTheirWords(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	now := time.Now()
	want := map[int64]string{}
	for _, tt := range storedWords {
		r := chat.Record{Time: now, Kind: tt.kind, Room: "go", RoomName: "#go", From: "alice", FromKey: "alice", Text: tt.word}
		if tt.kind == chat.KindPrivate {
			r.Room, r.RoomName, r.To, r.ToKey = "", "", "bob", "bob"
		}
		want[store(t, s, r).ID] = tt.word
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, kind FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]string{}
	for rows.Next() {
		var id int64
		var word string
		if err := rows.Scan(&id, &word); err != nil {
			t.Fatal(err)
		}
		got[id] = word
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id, word := range want {
		if got[id] != word {
			t.Errorf("the %s line is stored as %q", word, got[id])
		}
	}
}

// TestKindsWrittenYesterdayReadTheSame writes rows as an older hubbub did, with SQL of its
// own, and reads them through the store: each word gives back its kind, and a word this hubbub
// does not know (a newer one's) reads as a plain line rather than being lost.
func TestKindsWrittenYesterdayReadTheSame(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	db, err := sql.Open("sqlite", "file:"+cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	insert := func(word, room, pair, text string) {
		t.Helper()
		if _, err := db.Exec(`INSERT INTO messages (at, kind, room, room_name, sender, sender_key, recipient, pair, text)
			VALUES (1, ?, ?, ?, 'alice', 'alice', '', ?, ?)`, word, room, "#"+room, pair, text); err != nil {
			t.Fatal(err)
		}
	}
	pair := "alice\nbob"
	for _, tt := range storedWords {
		if tt.kind == chat.KindPrivate {
			insert(tt.word, "", pair, tt.word)
		} else {
			insert(tt.word, "go", "", tt.word)
		}
	}
	insert("private", "", pair, "from the future")
	if _, err := db.Exec(`UPDATE messages SET kind = 'whisper' WHERE text = 'from the future'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	room, err := s.Recent(t.Context(), "go", "", "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	private, err := s.Recent(t.Context(), "", "alice", "bob", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]chat.Kind{}
	for _, r := range append(room, private...) {
		got[r.Text] = r.Kind
	}
	// A room's history holds its lines, actions and topics; joins, leaves and nicks are not
	// replayed.
	for _, tt := range storedWords {
		k, ok := got[tt.word]
		switch tt.kind {
		case chat.KindJoin, chat.KindLeave, chat.KindNick:
			if ok {
				t.Errorf("a %s row was read back as history", tt.word)
			}
		default:
			if !ok || k != tt.kind {
				t.Errorf("a %s row reads as kind %v (found %v), want %v", tt.word, k, ok, tt.kind)
			}
		}
	}
	if k, ok := got["from the future"]; !ok || k != chat.KindChat {
		t.Errorf("a row of an unknown kind reads as %v (found %v), want a chat line", k, ok)
	}
}
