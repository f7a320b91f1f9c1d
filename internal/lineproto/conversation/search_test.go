package conversation_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// TestSearchPagesOverTheWire searches a room with more matches than a page: the user is told
// how many match in all, and the same words again show the older ones; searching too often is
// refused with the time to wait.
func TestSearchPagesOverTheWire(t *testing.T) {
	srv, _, clk := startWithHistory(t, chat.DefaultConfig(), chattest.StoreConfig(t))
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	for i := 1; i <= 26; i++ {
		alice.Send(fmt.Sprintf("match %d", i))
		alice.Send("no luck")
	}
	for i := 1; i <= 26; i++ {
		bob.Expect(fmt.Sprintf("<alice> match %d", i), "<alice> no luck") // shown, so stored
	}
	expectMatches := func(c *chattest.Client, from, to int) {
		t.Helper()
		for i := from; i >= to; i-- {
			c.Expect(fmt.Sprintf(at+"<alice> match %d", i))
		}
	}

	bob.Send("/search match")
	bob.Expect("*** 20 newest of 26 lines in #lobby that match:")
	expectMatches(bob, 26, 7)
	bob.Expect("*** /search the same words again for older matches")
	bob.Send("/search match")
	bob.Expect("*** one search every 2s: try again in 2s")
	clk.Add(1500 * time.Millisecond)
	bob.Send("/search match")
	bob.Expect("*** one search every 2s: try again in 1s")
	clk.Add(500 * time.Millisecond)
	bob.Send("/search   MATCH ")
	bob.Expect("*** lines 21 to 26 of 26 in #lobby that match, newest first:")
	expectMatches(bob, 6, 1)
	clk.Add(2 * time.Second)
	bob.Send("/search match") // all seen: from the newest again
	bob.Expect("*** 20 newest of 26 lines in #lobby that match:")
	expectMatches(bob, 26, 7)
	bob.Expect("*** /search the same words again for older matches")
	clk.Add(2 * time.Second)
	bob.Send("/search match 2") // other words: a new search
	bob.Expect("*** 1 line in #lobby matches:", at+"<alice> match 2")

	// Paging is per user.
	alice.Send("/search match")
	alice.Expect("*** 20 newest of 26 lines in #lobby that match:")
	expectMatches(alice, 26, 7)
	alice.Expect("*** /search the same words again for older matches")
}

// TestSearchCountsUpToACap searches a word with more matches than are counted: the user is
// told they are more than that, page after page.
func TestSearchCountsUpToACap(t *testing.T) {
	srv, s, clk := startWithHistory(t, chat.DefaultConfig(), chattest.StoreConfig(t))
	at := clk.Now()
	done := make(chan error, 1)
	for i := range 1100 {
		s.Store(chat.Record{Time: at, Kind: chat.KindChat, Room: "lobby", RoomName: "#lobby", From: "alice",
			FromKey: "alice", Text: fmt.Sprint("common ", i)}, func(_ chat.Record, err error) {
			if i == 1099 {
				done <- err
			}
		})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bob := chattest.Join(t, srv.Addr, "bob") // no replay: the lobby's last lines were read at start
	bob.Send("/search common")
	bob.Expect("*** 20 newest of more than 1000 lines in #lobby that match:")
	skipUntil(t, bob, "*** /search the same words again for older matches")
	clk.Add(2 * time.Second)
	bob.Send("/search common")
	bob.Expect("*** lines 21 to 40 of more than 1020 in #lobby that match, newest first:")
}

// skipUntil reads c's lines up to and including want.
func skipUntil(t *testing.T, c *chattest.Client, want string) {
	t.Helper()
	for range 100 {
		if c.ReadLine() == want {
			return
		}
	}
	t.Fatalf("no %q in 100 lines", want)
}

// TestSearchBusyOverTheWire runs two searches at once on a server that runs one at a time:
// the second is told the server is busy, the first gets its answer.
func TestSearchBusyOverTheWire(t *testing.T) {
	store := chattest.StoreConfig(t)
	store.MaxSearches = 1
	store.SearchWait = 100 * time.Millisecond
	srv, _, _ := startWithHistory(t, chat.DefaultConfig(), store)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	alice.Send("waiting for the index")
	bob.Expect("<alice> waiting for the index") // stored, not yet indexed

	// Another connection holds the database's write lock: the writer cannot index, and the
	// search that has the turn waits for it.
	db, err := sql.Open("sqlite", "file:"+store.Path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`INSERT INTO bans VALUES ('name', 'lock', 'lock', 0)`); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		c    *chattest.Client
		line string
		err  error
	}
	answers := make(chan answer, 2)
	for _, c := range []*chattest.Client{alice, bob} {
		c.Send("/search index")
		go func() {
			line, err := c.TryReadLine(chattest.Timeout)
			answers <- answer{c, line, err}
		}()
	}
	busy := <-answers
	if busy.err != nil || busy.line != "*** the server is busy with other searches: try again in a few seconds" {
		t.Fatalf("first answer: %q, %v; want the server busy", busy.line, busy.err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	ok := <-answers
	if ok.err != nil || ok.line != "*** 1 line in #lobby matches:" || ok.c == busy.c {
		t.Fatalf("second answer: %q, %v", ok.line, ok.err)
	}
	ok.c.Expect(at + "<alice> waiting for the index")
	if strings.Contains(srv.Logs.String(), "cannot search") {
		t.Errorf("a busy server logged an error: %s", srv.Logs.String())
	}
}
