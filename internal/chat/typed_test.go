package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	passwords "hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// The typed API beyond TestTypedAPI, tested on Message values: each method's failures by
// code, and what it does as events and values.

// failure is a call of a typed method that must fail with code.
type failure struct {
	what string
	call func() error
	code chat.ErrorCode
}

// expectFailures makes each call in order and checks its code.
func expectFailures(t *testing.T, cases []failure) {
	t.Helper()
	for _, c := range cases {
		var e *chat.Error
		if err := c.call(); !errors.As(err, &e) || e.Code != c.code || e.Text == "" {
			t.Errorf("%s: %v, want an Error with code %d", c.what, err, c.code)
		}
	}
}

// typedHub is a hub with no transport and no history, on a test clock.
func typedHub(t *testing.T, cfg chat.Config) (*chat.Hub, *chattest.Clock) {
	t.Helper()
	clk := chattest.NewClock()
	cfg.Now = clk.Now
	return chat.NewHub(cfg, slog.New(slog.DiscardHandler)), clk
}

// only returns the one message of ms of kind, failing the test when there is not exactly one.
func only(t *testing.T, who string, ms []*chat.Message, kind chat.Kind) *chat.Message {
	t.Helper()
	var found []*chat.Message
	for _, m := range ms {
		if m.Kind == kind {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s got %d messages of kind %d, want 1: %+v", who, len(found), kind, ms)
	}
	return found[0]
}

func noticeTexts(ms []*chat.Message) []string {
	var out []string
	for _, m := range ms {
		if m.Kind == chat.KindNotice {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestTypedRooms(t *testing.T) {
	hub, _ := typedHub(t, chat.DefaultConfig())
	alice, _ := chattest.Enter(t, hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	carol, carolGot := chattest.Enter(t, hub, "127.0.0.4", "carol")
	if err := alice.Join("#go"); err != nil { // made by alice: hers
		t.Fatal(err)
	}
	if err := bob.Join("go"); err != nil {
		t.Fatal(err)
	}
	expectFailures(t, []failure{
		{"topic by a member not the owner", func() error { return bob.Topic("#go", "mine") }, chat.CodeNotAllowed},
		{"topic of the current room by a member not the owner", func() error { return bob.Topic("", "mine") }, chat.CodeNotAllowed},
		{"topic of the lobby by its members", func() error { return alice.Topic("#lobby", "ours") }, chat.CodeNotAllowed},
		{"topic of a room nobody made", func() error { return alice.Topic("#nowhere", "x") }, chat.CodeNoSuchRoom},
		{"topic of a room not in", func() error { return carol.Topic("#go", "x") }, chat.CodeNotInRoom},
		{"topic of a room with a bad name", func() error { return alice.Topic("#", "x") }, chat.CodeNoSuchRoom},
		{"reading the topic of a room nobody made", func() error { _, err := alice.RoomTopic("#nowhere"); return err }, chat.CodeNoSuchRoom},
		{"who is in a room nobody made", func() error { _, err := alice.Who("#nowhere"); return err }, chat.CodeNoSuchRoom},
	})

	bobGot.Take()
	carolGot.Take()
	if err := alice.Topic("#go", "release \x1b[2Jon Friday"); err != nil {
		t.Fatal(err)
	}
	topic := only(t, "bob", bobGot.Take(), chat.KindTopic)
	if topic.Room != "#go" || topic.From != "alice" || topic.Text != "release on Friday" {
		t.Errorf("the topic bob saw: %+v", topic)
	}
	if got := carolGot.Take(); len(got) != 0 {
		t.Errorf("carol, not in #go, got %+v", got)
	}
	if got, err := carol.RoomTopic("go"); err != nil || got != "release on Friday" {
		t.Errorf("carol read the topic of #go as %q, %v", got, err)
	}
	if err := alice.Topic("", ""); err != nil { // alice's current room is #go
		t.Fatal(err)
	}
	if cleared := only(t, "bob", bobGot.Take(), chat.KindTopic); cleared.Text != "" || cleared.Room != "#go" {
		t.Errorf("the topic cleared, as bob saw it: %+v", cleared)
	}
	if got, err := bob.RoomTopic(""); err != nil || got != "" {
		t.Errorf("the topic of #go once cleared: %q, %v", got, err)
	}

	if err := bob.Away("lunch"); err != nil {
		t.Fatal(err)
	}
	who, err := carol.Who("#go") // carol is not in #go, and may still ask
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.MemberInfo{{Name: "alice", Owner: true}, {Name: "bob", Away: "lunch"}}
	if who.Room != "#go" || !slices.Equal(who.Members, want) {
		t.Errorf("who is in #go: %+v, want %+v", who, want)
	}
	if m := who.Message(); m.Kind != chat.KindMembers || m.Room != "#go" || m.Total != 2 || len(m.Members) != 2 {
		t.Errorf("the members message: %+v", m)
	}

	rooms := carol.Rooms()
	wantRooms := []chat.RoomInfo{{Name: "#lobby", Members: 3}, {Name: "#go", Members: 2}}
	if !slices.Equal(rooms, wantRooms) {
		t.Errorf("rooms: %+v, want %+v (the busiest first)", rooms, wantRooms)
	}
	// One room, looked up alone, is its line of Rooms, however it is spelled.
	for _, tc := range []struct {
		ask  string
		want chat.RoomInfo
		ok   bool
	}{
		{"#go", chat.RoomInfo{Name: "#go", Members: 2}, true},
		{"GO", chat.RoomInfo{Name: "#go", Members: 2}, true},
		{"#lobby", chat.RoomInfo{Name: "#lobby", Members: 3}, true},
		{"#nosuch", chat.RoomInfo{}, false},
		{"#", chat.RoomInfo{}, false},
		{"#bad name", chat.RoomInfo{}, false},
	} {
		if got, ok := carol.RoomInfo(tc.ask); got != tc.want || ok != tc.ok {
			t.Errorf("RoomInfo(%q) = %+v, %v; want %+v, %v", tc.ask, got, ok, tc.want, tc.ok)
		}
	}
	if err := alice.Topic("#go", "release on Monday"); err != nil {
		t.Fatal(err)
	}
	if got, _ := carol.RoomInfo("#go"); got.Topic != "release on Monday" {
		t.Errorf("RoomInfo(#go) after a topic: %+v", got)
	}
}

func TestTypedPeople(t *testing.T) {
	cfg := chat.DefaultConfig()
	cfg.OperPassword = "the operators' password"
	hub, clk := typedHub(t, cfg)
	alice, aliceGot := chattest.Enter(t, hub, "127.0.0.2", "alice")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	carol, carolGot := chattest.Enter(t, hub, "127.0.0.4", "carol")
	if err := bob.Join("#go"); err != nil {
		t.Fatal(err)
	}
	expectFailures(t, []failure{
		{"whois of no one", func() error { _, err := alice.Whois("zed"); return err }, chat.CodeNoSuchName},
		{"whois of a bad name", func() error { _, err := alice.Whois("*zed"); return err }, chat.CodeNoSuchName},
		{"ignore no name", func() error { return alice.Ignore("") }, chat.CodeNeedArgs},
		{"ignore no one", func() error { return alice.Ignore("zed") }, chat.CodeNoSuchName},
		{"ignore self", func() error { return alice.Ignore("ALICE") }, chat.CodeNotOnSelf},
		{"unignore no one", func() error { return alice.Unignore("zed") }, chat.CodeNotListed},
		{"unignore one not ignored", func() error { return alice.Unignore("bob") }, chat.CodeNotListed},
	})

	// Away is told, as a KindAway, to whoever shares a room with the member (transports
	// decide whether to show it); whois and private messages say it.
	aliceGot.Take()
	bobGot.Take()
	if err := bob.Away("at \x1b[31mlunch"); err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]*chat.Message{aliceGot.Take(), carolGot.Take()} {
		if len(got) != 1 || got[0].Kind != chat.KindAway || got[0].From != "bob" || got[0].Text != "at lunch" {
			if len(got) == 1 {
				t.Errorf("others were told of bob's away: %v %q %q", got[0].Kind, got[0].From, got[0].Text)
			} else {
				t.Errorf("others were told of bob's away %d times", len(got))
			}
		}
	}
	clk.Add(90 * time.Second)
	facts, err := alice.Whois("BOB")
	if err != nil {
		t.Fatal(err)
	}
	if facts.Name != "bob" || !slices.Equal(facts.Rooms, []string{"#lobby", "#go"}) || clk.Now().Sub(facts.Since) != 90*time.Second ||
		facts.Account != "" || facts.Devices != 1 || facts.Operator || facts.Away != "at lunch" || facts.From != nil {
		t.Errorf("whois bob, asked by a member: %+v", facts)
	}
	if err := alice.Private("bob", "there?"); err != nil {
		t.Fatal(err)
	}
	if got := noticeTexts(aliceGot.Take()); !slices.Contains(got, "bob is away: at lunch") {
		t.Errorf("alice, writing to bob away, was told %q", got)
	}
	if err := bob.Away(""); err != nil {
		t.Fatal(err)
	}
	if facts, _ := alice.Whois("bob"); facts.Away != "" {
		t.Errorf("bob is back and whois says away %q", facts.Away)
	}
	// Only an operator learns where someone connects from.
	if err := carol.Oper(cfg.OperPassword); err != nil {
		t.Fatal(err)
	}
	if facts, _ := carol.Whois("bob"); !slices.Equal(facts.From, []netip.Addr{netip.MustParseAddr("127.0.0.3")}) {
		t.Errorf("whois bob, asked by an operator: from %v", facts.From)
	}
	if facts, _ := alice.Whois("carol"); !facts.Operator {
		t.Errorf("whois carol, an operator: %+v", facts)
	}

	// Ignoring hides the one ignored, and only from the one who ignores.
	bobGot.Take()
	if err := alice.Ignore("B0B"); err != nil {
		t.Fatal(err)
	}
	if got := alice.Ignoring(); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("alice ignores %q, want bob", got)
	}
	if got := bobGot.Take(); len(got) != 0 {
		t.Errorf("bob was told he is ignored: %+v", got)
	}
	aliceGot.Take()
	carolGot.Take()
	if err := bob.Say("#lobby", "hello all"); err != nil {
		t.Fatal(err)
	}
	if got := aliceGot.Take(); len(got) != 0 {
		t.Errorf("alice, ignoring bob, got %+v", got)
	}
	only(t, "carol", carolGot.Take(), chat.KindChat)
	if err := alice.Unignore("bob"); err != nil {
		t.Fatal(err)
	}
	if got := alice.Ignoring(); len(got) != 0 {
		t.Errorf("alice still ignores %q", got)
	}
	if err := bob.Say("#lobby", "hello again"); err != nil {
		t.Fatal(err)
	}
	if line := only(t, "alice", aliceGot.Take(), chat.KindChat); line.Text != "hello again" {
		t.Errorf("alice got %+v", line)
	}
}

func TestTypedOper(t *testing.T) {
	const pw = "the operators' password"
	cfg := chat.DefaultConfig()
	cfg.OperPassword = pw
	hub, clk := typedHub(t, cfg)
	alice, _ := chattest.Enter(t, hub, "127.0.0.2", "alice")
	noOpers, _ := typedHub(t, chat.DefaultConfig())
	zed, _ := chattest.Enter(t, noOpers, "127.0.0.2", "zed")
	expectFailures(t, []failure{
		{"no password", func() error { return alice.Oper("") }, chat.CodeNeedArgs},
		{"a server with no operator password", func() error { return zed.Oper(pw) }, chat.CodeNotOffered},
		{"a wrong password", func() error { return alice.Oper("guess") }, chat.CodeWrongPassword},
		{"the right one, too soon after a wrong one", func() error { return alice.Oper(pw) }, chat.CodeTryLater},
	})
	if facts, _ := alice.Whois("alice"); facts.Operator {
		t.Fatal("alice is an operator after failing")
	}
	clk.Add(2 * time.Second)
	if err := alice.Oper(pw); err != nil {
		t.Fatal(err)
	}
	if facts, _ := alice.Whois("alice"); !facts.Operator {
		t.Error("alice is no operator after the right password")
	}
}

func TestTypedModeration(t *testing.T) {
	const pw = "the operators' password"
	cfg := chat.DefaultConfig()
	cfg.OperPassword = pw
	hub, clk := typedHub(t, cfg)
	op, opGot := chattest.Enter(t, hub, "127.0.0.2", "op")
	bob, bobGot := chattest.Enter(t, hub, "127.0.0.3", "bob")
	carol, carolGot := chattest.Enter(t, hub, "127.0.0.4", "carol")
	_, daveGot := chattest.Enter(t, hub, "127.0.0.9", "dave")
	if err := bob.Join("#bob"); err != nil { // bob owns it: only a mute stops his topic
		t.Fatal(err)
	}
	expectFailures(t, []failure{
		{"mute by a member", func() error { return carol.Mute("bob", time.Minute) }, chat.CodeNotAllowed},
		{"unmute by a member", func() error { return carol.Unmute("bob") }, chat.CodeNotAllowed},
		{"ban by a member", func() error { return carol.Ban("bob", 0) }, chat.CodeNotAllowed},
		{"unban by a member", func() error { return carol.Unban("bob") }, chat.CodeNotAllowed},
		{"bans listed for a member", func() error { _, err := carol.Bans(); return err }, chat.CodeNotAllowed},
	})
	if err := op.Oper(pw); err != nil {
		t.Fatal(err)
	}
	expectFailures(t, []failure{
		{"mute no name", func() error { return op.Mute("", time.Minute) }, chat.CodeNeedArgs},
		{"mute no one", func() error { return op.Mute("zed", time.Minute) }, chat.CodeNoSuchName},
		{"mute self", func() error { return op.Mute("OP", time.Minute) }, chat.CodeNotOnSelf},
		{"mute for no time", func() error { return op.Mute("bob", 0) }, chat.CodeBadValue},
		{"mute for more than a year", func() error { return op.Mute("bob", 400*24*time.Hour) }, chat.CodeBadValue},
		{"unmute no one", func() error { return op.Unmute("zed") }, chat.CodeNoSuchName},
		{"ban nothing", func() error { return op.Ban("", 0) }, chat.CodeNeedArgs},
		{"ban for less than no time", func() error { return op.Ban("bob", -time.Second) }, chat.CodeBadValue},
		{"ban a bad address", func() error { return op.Ban("10.0.0.300", 0) }, chat.CodeBadValue},
		{"ban a bad name", func() error { return op.Ban("*bob", 0) }, chat.CodeBadName},
		{"ban a network with self in it", func() error { return op.Ban("127.0.0.0/8", 0) }, chat.CodeNotOnSelf},
		{"ban own name", func() error { return op.Ban("0P", time.Hour) }, chat.CodeNotOnSelf},
		{"unban nothing", func() error { return op.Unban("") }, chat.CodeNeedArgs},
		{"unban a name not banned", func() error { return op.Unban("zed") }, chat.CodeNotListed},
		{"unban an address not banned", func() error { return op.Unban("10.1.2.3") }, chat.CodeNotListed},
		{"unban a bad network", func() error { return op.Unban("10.1.2.3/40") }, chat.CodeBadValue},
	})

	// A mute: the member is told, and each of its tries fails as muted (the slash front end
	// says so once a minute; the typed methods each time).
	bobGot.Take()
	carolGot.Take()
	if err := op.Mute("bob", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := noticeTexts(bobGot.Take()); !slices.Equal(got, []string{"an operator muted you for 10m0s"}) {
		t.Errorf("bob, muted, was told %q", got)
	}
	muted := func(what string, call func() error) failure {
		return failure{what + " while muted", call, chat.CodeMuted}
	}
	expectFailures(t, []failure{
		muted("say", func() error { return bob.Say("", "hello") }),
		muted("say again", func() error { return bob.Say("#lobby", "hello") }),
		muted("act", func() error { return bob.Action("", "waves") }),
		muted("private message", func() error { return bob.Private("carol", "psst") }),
		muted("nick", func() error { return bob.Nick("robert") }),
		muted("away", func() error { return bob.Away("gone") }),
		muted("topic", func() error { return bob.Topic("#bob", "mine") }),
	})
	if err := bob.Away(""); err != nil { // coming back is not talking
		t.Errorf("back from away while muted: %v", err)
	}
	if got := carolGot.Take(); len(got) != 0 {
		t.Errorf("carol got %+v from bob muted", got)
	}
	if err := op.Unmute("bob"); err != nil {
		t.Fatal(err)
	}
	if got := noticeTexts(bobGot.Take()); !slices.Equal(got, []string{"you may talk again"}) {
		t.Errorf("bob, unmuted, was told %q", got)
	}
	if err := bob.Say("#lobby", "thanks"); err != nil {
		t.Errorf("bob unmuted: %v", err)
	}
	if line := only(t, "carol", carolGot.Take(), chat.KindChat); line.Text != "thanks" {
		t.Errorf("carol got %+v", line)
	}

	// A ban of a name: whoever wears it leaves the chat, and the others are told once.
	if err := op.Ban("B0B", time.Hour); err != nil {
		t.Fatal(err)
	}
	if bobGot.Dropped() != chat.DropBanned {
		t.Errorf("bob, banned, was dropped for %q", bobGot.Dropped())
	}
	if quit := only(t, "carol", carolGot.Take(), chat.KindQuit); quit.From != "bob" || quit.Text != "banned" {
		t.Errorf("carol was told %+v", quit)
	}
	// A ban of an address: every device from it leaves.
	if err := op.Ban("127.0.0.9", 0); err != nil {
		t.Fatal(err)
	}
	if daveGot.Dropped() != chat.DropBanned {
		t.Errorf("dave, his address banned, was dropped for %q", daveGot.Dropped())
	}
	if _, err := hub.Connect(&chattest.Recorder{}, chat.Peer{Addr: netip.MustParseAddr("127.0.0.9")}); !errors.Is(err, chat.ErrBanned) {
		t.Errorf("connecting from a banned address: %v", err)
	}
	bans, err := op.Bans()
	wantBans := []chat.Ban{{Name: "B0B", Until: clk.Now().Add(time.Hour)}, {Address: netip.MustParsePrefix("127.0.0.9/32")}}
	if err != nil || !slices.Equal(bans, wantBans) {
		t.Errorf("bans: %+v, %v; want %+v", bans, err, wantBans)
	}
	expectFailures(t, []failure{
		{"whois of one banned", func() error { _, err := op.Whois("bob"); return err }, chat.CodeNoSuchName},
	})
	if err := op.Unban("bob"); err != nil { // a look-alike of the name banned lifts it
		t.Fatal(err)
	}
	if err := op.Unban("127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	if bans, _ := op.Bans(); len(bans) != 0 {
		t.Errorf("bans once lifted: %+v", bans)
	}
	chattest.Enter(t, hub, "127.0.0.9", "bob") // welcome again
	opGot.Take()
}

func TestTypedHistoryAndSearch(t *testing.T) {
	store, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, name := range []string{"alice", "bob"} {
		n, _ := chat.ParseName(name)
		hash, err := passwords.Hash(name + "'s long password")
		if err != nil {
			t.Fatal(err)
		}
		if err := store.CreateAccount(context.Background(), chat.Account{Name: name, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := chat.DefaultConfig()
	cfg.History, cfg.Bans, cfg.Accounts = store, store, store
	hub, clk := typedHub(t, cfg)
	alice, _ := chattest.EnterAs(t, hub, "127.0.0.2", "alice", "alice's long password")
	bob, bobGot := chattest.EnterAs(t, hub, "127.0.0.3", "bob", "bob's long password")
	carol, carolGot := chattest.Enter(t, hub, "127.0.0.4", "carol")
	if err := carol.Join("#carol"); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"one fish", "two fish", "red fish", "blue fish", "no match"} {
		if err := alice.Say("#lobby", text); err != nil {
			t.Fatal(err)
		}
	}
	// Shown once kept: bob has it all once he is shown the last.
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindChat && m.Text == "no match" })

	noHistory, _ := typedHub(t, chat.DefaultConfig())
	zed, _ := chattest.Enter(t, noHistory, "127.0.0.2", "zed")
	expectFailures(t, []failure{
		{"history where none is kept", func() error { _, err := zed.History("", 0, 10); return err }, chat.CodeNotOffered},
		{"search where none is kept", func() error { _, err := zed.Search("", "fish", 0); return err }, chat.CodeNotOffered},
		{"history of no lines", func() error { _, err := alice.History("", 0, 0); return err }, chat.CodeNeedArgs},
		{"history of a room nobody made", func() error { _, err := alice.History("#nowhere", 0, 10); return err }, chat.CodeNoSuchRoom},
		{"history of a room not in", func() error { _, err := alice.History("#carol", 0, 10); return err }, chat.CodeNotInRoom},
		{"private history of a guest", func() error { _, err := carol.History("alice", 0, 10); return err }, chat.CodeNotAllowed},
		{"private history with a guest", func() error { _, err := alice.History("carol", 0, 10); return err }, chat.CodeNoSuchName},
		{"private history with a bad name", func() error { _, err := alice.History("*x", 0, 10); return err }, chat.CodeNoSuchName},
		{"search for no words", func() error { _, err := alice.Search("", " \x1b ", 0); return err }, chat.CodeNeedArgs},
		{"search a room nobody made", func() error { _, err := alice.Search("#nowhere", "fish", 0); return err }, chat.CodeNoSuchRoom},
		{"search a room not in", func() error { _, err := alice.Search("#carol", "fish", 0); return err }, chat.CodeNotInRoom},
	})

	// History pages back by ID, oldest first in each page.
	page, err := bob.History("", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if texts(page) != "blue fish|no match" || !page[0].History || page[0].Room != "#lobby" || page[0].From != "alice" {
		t.Fatalf("the last two lines: %+v", page)
	}
	if page, err = bob.History("#lobby", page[0].ID, 10); err != nil || texts(page) != "one fish|two fish|red fish" {
		t.Errorf("the lines before: %+v, %v", page, err)
	}

	// Search pages back too, newest first, and may run once every two seconds.
	found, err := bob.Search("#lobby", "FISH", 0)
	if err != nil {
		t.Fatal(err)
	}
	if found.Room != "#lobby" || found.Matches != 4 || found.Capped || texts(found.Messages) != "blue fish|red fish|two fish|one fish" {
		t.Errorf("search for fish: %+v", found)
	}
	expectFailures(t, []failure{
		{"a search too soon", func() error { _, err := bob.Search("", "fish", 0); return err }, chat.CodeTryLater},
	})
	clk.Add(2 * time.Second)
	if found, err = bob.Search("", "fish", found.Messages[1].ID); err != nil || texts(found.Messages) != "two fish|one fish" || found.Matches != 2 {
		t.Errorf("search for fish, older than red fish: %+v, %v", found, err)
	}

	// Private history belongs to the two accounts; each reads its own lines as sent.
	if err := alice.Private("bob", "just us"); err != nil {
		t.Fatal(err)
	}
	bobGot.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindPrivate && m.Text == "just us" })
	for _, c := range []struct {
		reader *chat.Session
		with   string
		sent   bool
	}{{alice, "bob", true}, {bob, "ALICE", false}} {
		got, err := c.reader.History(c.with, 0, 10)
		if err != nil || len(got) != 1 || got[0].Kind != chat.KindPrivate || got[0].Text != "just us" || got[0].Sent != c.sent || !got[0].History {
			t.Errorf("%s's private history with %s: %+v, %v", c.reader.Name(), c.with, got, err)
		}
	}
	carolGot.Take()
}

// texts joins the texts of ms with "|".
func texts(ms []*chat.Message) string {
	var out string
	for i, m := range ms {
		if i > 0 {
			out += "|"
		}
		out += m.Text
	}
	return out
}
