package conversation_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/sqlite"
)

// startWithHistory runs a chat keeping history in a real SQLite file at path.
func startWithHistory(t *testing.T, cfg chat.Config, store sqlite.Config) (*chattest.Server, *sqlite.Store, *clock) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() }) // after the server's shutdown, which is registered later
	clk := newClock()
	cfg.Now = clk.Now
	cfg.History, cfg.Bans = s, s
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, cfg, nil)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, s, clk
}

// at is how the test clock's time shows on history lines.
const at = "[2026-11-25 12:00] "

func TestHistoryReplayPagingAndSearch(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.Replay = 5
	srv, _, clk := startWithHistory(t, cfg, chattest.StoreConfig(t))
	alice := chattest.Join(t, srv.Addr, "alice")
	carol := chattest.Join(t, srv.Addr, "carol")
	alice.Expect("carol has joined the channel")
	for i := 1; i <= 12; i++ {
		alice.Send(fmt.Sprintf("line %d", i))
	}
	for i := 1; i <= 12; i++ {
		carol.Expect(fmt.Sprintf("<alice> line %d", i)) // shown, so stored
	}

	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	carol.Expect("bob has joined the channel")
	bob.Expect(at+"<alice> line 8", at+"<alice> line 9", at+"<alice> line 10", at+"<alice> line 11",
		at+"<alice> line 12", "*** end of history")
	bob.Send("/history 3")
	bob.Expect(at+"<alice> line 5", at+"<alice> line 6", at+"<alice> line 7",
		"*** end of history: /history again for earlier lines")
	bob.Send("/history")
	bob.Expect(at+"<alice> line 1", at+"<alice> line 2", at+"<alice> line 3", at+"<alice> line 4",
		"*** end of history: nothing earlier")
	bob.Send("/history")
	bob.Expect("*** no earlier history")
	bob.Send("/history 0")
	bob.Expect("*** usage: /history [NAME] [N]")

	bob.Send("/search LINE 1")
	bob.Expect("*** 1 line in #lobby matches:", at+"<alice> line 1")
	clk.Add(2 * time.Second) // one search every 2s
	bob.Send("/search line")
	bob.Expect("*** 12 lines in #lobby match, newest first:", at+"<alice> line 12")
	for i := 11; i >= 1; i-- {
		bob.Expect(fmt.Sprintf(at+"<alice> line %d", i))
	}
	clk.Add(2 * time.Second) // one search every 2s
	bob.Send(`/search "nothing" OR NEAR(`)
	bob.Expect(`*** nothing in #lobby matches "nothing" OR NEAR(`)

	// A room's history is its own, topic changes and actions included.
	alice.Send("/join go")
	alice.Expect("*** you made #go and own it: plain lines now go there")
	alice.Send("/topic all about Go")
	alice.Expect("alice set the topic of #go: all about Go")
	dave := chattest.Join(t, srv.Addr, "dave")
	dave.Expect(at+"<alice> line 8", at+"<alice> line 9", at+"<alice> line 10", at+"<alice> line 11",
		at+"<alice> line 12", "*** end of history")
	for _, c := range []*chattest.Client{alice, bob, carol} {
		c.Expect("dave has joined the channel")
	}
	dave.Send("/join go")
	dave.Expect(at+"alice set the topic of #go: all about Go", "*** end of history",
		"*** topic for #go: all about Go", "*** you joined #go (2 here): plain lines now go there")
	alice.Expect("dave has joined #go")
	alice.Send("/me waves")
	alice.Send("generics!")
	dave.Expect("* alice waves", "<alice> generics!") // shown, so stored
	bob.Send("/join go")
	dave.Expect("bob has joined #go")
	alice.Expect("bob has joined #go")
	bob.Expect(at+"alice set the topic of #go: all about Go", at+"* alice waves", at+"<alice> generics!",
		"*** end of history", "*** topic for #go: all about Go", "*** you joined #go (3 here): plain lines now go there")
	clk.Add(2 * time.Second) // one search every 2s
	bob.Send("/search line")
	bob.Expect("*** nothing in #go matches line")

	// Private messages are shown and kept nowhere.
	alice.Send("/msg bob the password is swordfish")
	alice.Expect("[PM to bob] the password is swordfish",
		"*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
	bob.Expect("[PM from alice] the password is swordfish")
	bob.Send("/history alice")
	bob.Expect("*** this server keeps private messages nowhere, so there is no history with alice to show")
	carol.Send("/search swordfish")
	carol.Expect("*** nothing in #lobby matches swordfish")
}

func TestHistorySurvivesRestart(t *testing.T) {
	store := chattest.StoreConfig(t)
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "pw"
	srv, s, _ := startWithHistory(t, cfg, store)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	alice.Send("/oper pw")
	alice.Expect("*** you are now an operator")
	alice.Send("/ban mallory")
	alice.Expect("*** banned the name mallory until /unban")
	alice.Send("remember me")
	bob.Expect("<alice> remember me")
	if err := srv.Line.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	srv, _, _ = startWithHistory(t, cfg, store)
	carol := chattest.Join(t, srv.Addr, "carol")
	carol.Expect(at+"<alice> remember me", "*** end of history")
	m := chattest.Dial(t, srv.Addr)
	m.Expect("What's your name?")
	m.Send("MALLORY")
	m.Expect("*** that name is banned, please choose other")
}

// TestUnstoredLinesAreNotShown fills the database: a line that cannot be stored is shown to
// nobody, its sender is told, and the chat goes on.
func TestUnstoredLinesAreNotShown(t *testing.T) {
	store := chattest.StoreConfig(t)
	store.MaxPages = 40
	srv, _, _ := startWithHistory(t, chat.DefaultConfig(), store)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	big := strings.Repeat("x", 2000)
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("the database never filled")
		}
		alice.Send(fmt.Sprint(i, big))
		line, err := alice.TryReadLine(quiet)
		if err != nil {
			bob.Expect(fmt.Sprint("<alice> ", i, big)) // stored, so shown
			continue
		}
		if line != "*** the server could not store that, so nobody saw it: try again later" {
			t.Fatalf("alice got %q", line)
		}
		bob.ExpectSilence(quiet) // never shown
		break
	}
	srv.Logs.WaitFor(t, "history: cannot store lines", "full")
	alice.Send("/who")
	alice.Expect("*** #lobby (2): alice, bob")
}

// TestRetentionOverTheWire keeps 3 lines per room: after retention runs, that is all that
// replay and /history show.
func TestRetentionOverTheWire(t *testing.T) {
	store := chattest.StoreConfig(t)
	store.MaxRows = 3
	srv, s, _ := startWithHistory(t, chat.DefaultConfig(), store)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	for i := range 6 {
		alice.Send(fmt.Sprint("said ", i))
		bob.Expect(fmt.Sprint("<alice> said ", i))
	}
	// 8 rows in the lobby: two joins and six lines; the newest 3 stay.
	if n, err := s.Retain(t.Context()); err != nil || n != 5 {
		t.Fatalf("Retain = %d, %v; want 5 rows deleted", n, err)
	}
	bob.Send("/history")
	bob.Expect(at+"<alice> said 3", at+"<alice> said 4", at+"<alice> said 5", "*** end of history: nothing earlier")
	bob.Send("/search said")
	bob.Expect("*** 3 lines in #lobby match, newest first:", at+"<alice> said 5", at+"<alice> said 4", at+"<alice> said 3")
}

// TestNameTakerReadsNoPrivateTalk replays the attack of issue 14: carol and dave talk in
// private and leave; whoever takes carol's name reads nothing of it, and a /reply to a writer
// who left never reaches whoever holds that name now.
func TestNameTakerReadsNoPrivateTalk(t *testing.T) {
	srv, s, _ := startWithHistory(t, chat.DefaultConfig(), chattest.StoreConfig(t))
	carol := chattest.Join(t, srv.Addr, "carol")
	dave := chattest.Join(t, srv.Addr, "dave")
	carol.Expect("dave has joined the channel")
	carol.Send("/msg dave my password is hunter2")
	dave.Expect("[PM from carol] my password is hunter2")
	dave.Send("/reply the vault code is 4711")
	carol.Expect("[PM to dave] my password is hunter2",
		"*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history",
		"[PM from dave] the vault code is 4711")
	for _, c := range []*chattest.Client{carol, dave} {
		c.Send("/quit")
		c.ExpectClosed()
	}

	taker := chattest.Join(t, srv.Addr, "CAROL")
	taker.Send("/history dave")
	taker.Expect("*** this server keeps private messages nowhere, so there is no history with dave to show")
	taker.Send("/nick Dave")
	taker.Expect("CAROL is now known as Dave")
	taker.Send("/history carol")
	taker.Expect("*** this server keeps private messages nowhere, so there is no history with carol to show")
	recs, err := s.Recent(t.Context(), "", "carol", "dave", 0, 100)
	if err != nil || len(recs) != 0 {
		t.Errorf("the store holds %d private messages (%v)", len(recs), err)
	}

	// roberto answers alicia after she left and a newcomer took her name.
	alicia := chattest.Join(t, srv.Addr, "alicia")
	roberto := chattest.Join(t, srv.Addr, "roberto")
	alicia.Expect("roberto has joined the channel")
	alicia.Send("/msg roberto send me the report")
	roberto.Expect("[PM from alicia] send me the report")
	alicia.Send("/quit")
	alicia.ExpectClosed()
	roberto.Expect("alicia has left the channel.")
	newcomer := chattest.Join(t, srv.Addr, "ALICIA")
	roberto.Expect("ALICIA has joined the channel")
	roberto.Send("/reply here is the confidential report")
	roberto.Expect("*** alicia, who wrote to you, has left: your reply was not sent (someone called alicia now would be someone else)")
	newcomer.Send("/who")
	newcomer.Expect("*** #lobby (3): Dave, roberto, ALICIA") // and no private message before it
}

// TestRoomReplayAfterEmptying: a room other than the lobby that emptied, or that did not
// exist since a restart, replays its last lines when it is made again.
func TestRoomReplayAfterEmptying(t *testing.T) {
	store := chattest.StoreConfig(t)
	srv, s, _ := startWithHistory(t, chat.DefaultConfig(), store)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	alice.Send("/join go")
	alice.Expect("*** you made #go and own it: plain lines now go there")
	bob.Send("/join go")
	bob.Expect("*** you joined #go (2 here): plain lines now go there")
	alice.Expect("bob has joined #go")
	alice.Send("/me is first")
	alice.Send("anyone?")
	bob.Expect("* alice is first", "<alice> anyone?") // shown, so stored
	bob.Send("/part")
	bob.Expect("*** you left #go", "*** now talking in #lobby")
	alice.Expect("bob has left #go.")
	alice.Send("/part")
	alice.Expect("*** you left #go", "*** now talking in #lobby")
	bob.Send("/join GO")
	bob.Expect(at+"* alice is first", at+"<alice> anyone?", "*** end of history",
		"*** you made #GO and own it: plain lines now go there")
	bob.Send("here now")
	bob.Send("/quit")
	bob.Expect("*** goodbye")
	bob.ExpectClosed()

	if err := srv.Line.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	srv, _, _ = startWithHistory(t, chat.DefaultConfig(), store)
	carol := chattest.Join(t, srv.Addr, "carol")
	carol.Send("/join #go")
	carol.Expect(at+"* alice is first", at+"<alice> anyone?", at+"<bob> here now", "*** end of history",
		"*** you made #go and own it: plain lines now go there")
}

// pausedStore is the real store, except that one read of a replay, once armed, returns only
// when the test releases it: a test can then do things while a room's replay is being read.
type pausedStore struct {
	chat.Lines // a *sqlite.Store
	armed      atomic.Bool
	read       chan struct{} // closed once the paused read has read
	release    chan struct{}
}

func (p *pausedStore) Recent(ctx context.Context, room, a, b string, before int64, n int) ([]chat.Record, error) {
	recs, err := p.Lines.Recent(ctx, room, a, b, before, n)
	if a == "" && before == 0 && p.armed.CompareAndSwap(true, false) {
		close(p.read)
		select {
		case <-p.release:
		case <-ctx.Done():
		}
	}
	return recs, err
}

// TestRoomReplayRace: while bob's /join reads a room's replay, others make the room, talk in
// it and leave it: bob's replay has what was read and what was said meanwhile, each once.
func TestRoomReplayRace(t *testing.T) {
	s, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	paused := &pausedStore{Lines: s, read: make(chan struct{}), release: make(chan struct{})}
	cfg := chat.DefaultConfig()
	cfg.History = paused
	cfg.Now = newClock().Now
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, cfg, nil)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	alice, bob, carol := joinThree(t, srv.Addr)
	alice.Send("/join go")
	alice.Expect("*** you made #go and own it: plain lines now go there")
	carol.Send("/join go")
	carol.Expect("*** you joined #go (2 here): plain lines now go there")
	alice.Expect("carol has joined #go")
	alice.Send("one")
	carol.Expect("<alice> one") // shown, so stored
	carol.Send("/part")
	carol.Expect("*** you left #go", "*** now talking in #lobby")
	alice.Expect("carol has left #go.")
	alice.Send("/part")
	alice.Expect("*** you left #go", "*** now talking in #lobby")

	paused.armed.Store(true)
	bob.Send("/join go")
	select {
	case <-paused.read: // bob's read has only "one"
	case <-time.After(chattest.Timeout):
		t.Fatal("bob's /join did not read the room's replay")
	}
	alice.Send("/join go")
	alice.Expect(at+"<alice> one", "*** end of history", "*** you made #go and own it: plain lines now go there")
	carol.Send("/join go")
	carol.Expect(at+"<alice> one", "*** end of history", "*** you joined #go (2 here): plain lines now go there")
	alice.Expect("carol has joined #go")
	alice.Send("two")
	carol.Expect("<alice> two")
	carol.Send("/part")
	carol.Expect("*** you left #go", "*** now talking in #lobby")
	alice.Expect("carol has left #go.")
	alice.Send("/part")
	alice.Expect("*** you left #go", "*** now talking in #lobby")
	close(paused.release)
	bob.Expect(at+"<alice> one", at+"<alice> two", "*** end of history", "*** you made #go and own it: plain lines now go there")
}

// TestHistoryIsPaged asks for 100 lines of 4 KB (400 KB, more than the transport queues for
// one client): the replay on joining and /history come in pages that fit an answer, each
// saying how to get the rest, and the client reading them stays connected.
func TestHistoryIsPaged(t *testing.T) {
	srv, _, _ := startWithHistory(t, chat.DefaultConfig(), chattest.StoreConfig(t))
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")
	long := strings.Repeat("x", 4000)
	for i := range 100 {
		// One at a time: 400 KB at once would be more than bob's queue holds while the test
		// reads it, and bob would be told of lines skipped.
		alice.Send(fmt.Sprintf("%03d %s", i, long))
		bob.Expect(fmt.Sprintf("<alice> %03d %s", i, long)) // shown, so stored
	}

	carol := chattest.Join(t, srv.Addr, "carol")
	// page reads one page: the numbers of its lines, and the notice that ends it.
	page := func() (numbers []string, end string) {
		t.Helper()
		size := 0
		for {
			line := carol.ReadLine()
			if strings.HasPrefix(line, "*** end of history") {
				if size > chat.DefaultAnswerBytes {
					t.Errorf("a page of %d bytes, more than %d", size, chat.DefaultAnswerBytes)
				}
				return numbers, line
			}
			size += len(line) + 2
			text, ok := strings.CutPrefix(line, at+"<alice> ")
			if !ok || len(text) != 4004 {
				t.Fatalf("carol got %.60q", line)
			}
			numbers = append(numbers, text[:3])
		}
	}
	// Pages go back in time, each in order: together, every line once, newest page first.
	var got []string
	var ends []string
	numbers, end := page() // the replay on joining
	for i := 0; ; i++ {
		got = append(numbers, got...)
		ends = append(ends, end)
		if end == "*** end of history: nothing earlier" {
			break
		}
		if i == 20 {
			t.Fatalf("still paging after 20 pages: %q", ends)
		}
		if i == 0 {
			carol.Send("/history 100")
		} else {
			carol.Send("/history")
		}
		numbers, end = page()
	}
	for i, n := range got {
		if n != fmt.Sprintf("%03d", i) {
			t.Fatalf("carol was shown lines %v, want 000 to 099 in order", got)
		}
	}
	if len(got) != 100 || len(ends) < 4 ||
		!strings.HasPrefix(ends[0], "*** end of history: more than fits at once, /history for the next ") ||
		!strings.HasPrefix(ends[1], "*** end of history: more than fits at once, /history again for the next ") {
		t.Errorf("carol was shown %d lines in pages ending %q", len(got), ends)
	}
	carol.Send("/who")
	carol.Expect("*** #lobby (3): alice, bob, carol") // still here
}
