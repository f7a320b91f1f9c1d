package sqlite_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

type told struct {
	r   chat.Record
	err error
}

// index indexes r as the event origin and waits until it is kept (or found kept already).
func index(t *testing.T, s *sqlite.Store, r chat.Record, origin string) chat.Record {
	t.Helper()
	got := make(chan told, 1)
	s.Index(r, origin, func(r chat.Record, err error) { got <- told{r, err} })
	select {
	case g := <-got:
		if g.err != nil {
			t.Fatalf("index %+v: %v", r, g.err)
		}
		return g.r
	case <-time.After(10 * time.Second):
		t.Fatal("index: done never called")
	}
	return chat.Record{}
}

// Lines another node kept are read and searched as this node's own, in the order this node
// learned of them, and each event is kept once however often it is read: across transactions,
// within one, and after a restart.
func TestIndexOnce(t *testing.T) {
	cfg := testConfig(t)
	s := open(t, cfg)
	now := time.Now()
	own := store(t, s, line("go", "alice", "mine first", now))
	other := line("go", "bob", "gophers from another node", now.Add(-time.Minute))
	other.ID = 99 // the other node's, which means nothing here
	first := index(t, s, other, "b.boot.1")
	if first.ID <= own.ID {
		t.Errorf("an indexed line got ID %d, not above %d kept before it", first.ID, own.ID)
	}
	if again := index(t, s, other, "b.boot.1"); again.ID != 0 {
		t.Errorf("the same event indexed twice got ID %d the second time, want 0", again.ID)
	}

	// Many at once, some twice in one batch, between lines of this node's: each told its ID, in
	// the order given; the copies told 0.
	const n = 120
	results := make(chan told, 3*n)
	for i := range n {
		origin := fmt.Sprintf("c.boot.%d", i)
		r := line("go", "carol", fmt.Sprint("batched ", i), now)
		s.Index(r, origin, func(r chat.Record, err error) { results <- told{r, err} })
		if i%7 == 0 {
			s.Index(r, origin, func(r chat.Record, err error) { results <- told{chat.Record{Text: "copy"}, errFromID(r, err)} })
		}
		if i%10 == 0 {
			s.Store(line("go", "alice", fmt.Sprint("own ", i), now), func(r chat.Record, err error) { results <- told{r, err} })
		}
	}
	var last int64
	copies := 0
	for range n + (n+6)/7 + (n+9)/10 {
		g := <-results
		switch {
		case g.err != nil:
			t.Fatal(g.err)
		case g.r.Text == "copy":
			copies++
		case g.r.ID <= last:
			t.Fatalf("%q told ID %d after %d", g.r.Text, g.r.ID, last)
		default:
			last = g.r.ID
		}
	}
	if copies != (n+6)/7 {
		t.Errorf("%d copies told ID 0, want %d", copies, (n+6)/7)
	}

	// After a restart the origins are still known.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, cfg)
	if again := index(t, s, other, "b.boot.1"); again.ID != 0 {
		t.Errorf("after a restart the same event got ID %d, want 0", again.ID)
	}
	recs, err := s.Recent(t.Context(), "go", "", "", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + n + (n+9)/10; len(recs) != want {
		t.Errorf("history holds %d lines, want %d (each once)", len(recs), want)
	}
	if recs[1].ID != first.ID || recs[1].Text != other.Text || recs[1].From != "bob" || !recs[1].Time.Equal(other.Time) {
		t.Errorf("the indexed line reads back as %+v, want %+v with ID %d", recs[1], other, first.ID)
	}
	found, err := search(t, s, "go", 0, "gophers", 10)
	if err != nil || len(found) != 1 || found[0].ID != first.ID {
		t.Errorf("search for a word said on another node: %+v, %v", found, err)
	}
}

// errFromID fails a copy of an event that was kept again.
func errFromID(r chat.Record, err error) error {
	if err == nil && r.ID != 0 {
		return fmt.Errorf("a copy of an event was kept again, as ID %d", r.ID)
	}
	return err
}

// Private messages between accounts from another node read as the conversation's.
func TestIndexPrivate(t *testing.T) {
	s := open(t, testConfig(t))
	pm := chat.Record{Time: time.Now(), Kind: chat.KindPrivate, From: "alice", FromKey: "a1", To: "bob", ToKey: "a2", Text: "psst"}
	kept := index(t, s, pm, "a.boot.7")
	got, err := s.Recent(t.Context(), "", "a2", "a1", 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != kept.ID || got[0].Text != "psst" || got[0].ToKey != "a2" {
		t.Errorf("bob's private history with alice: %+v, %v", got, err)
	}
}

func TestIndexRefusesNoOrigin(t *testing.T) {
	s := open(t, testConfig(t))
	got := make(chan error, 1)
	s.Index(line("go", "bob", "from nowhere", time.Now()), "", func(_ chat.Record, err error) { got <- err })
	if err := <-got; !errors.Is(err, sqlite.ErrNoOrigin) {
		t.Errorf("Index with no origin: %v, want ErrNoOrigin", err)
	}
}
