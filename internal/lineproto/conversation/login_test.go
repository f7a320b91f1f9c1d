package conversation_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/metrics"
	passwords "hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// startWithAccounts runs a chat over the real line transport whose accounts are kept in a
// real SQLite file, on a clock the test moves, with alice registered with pw.
func startWithAccounts(t *testing.T, cfg chat.Config, pw string) (*chattest.Server, *clock) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), chattest.StoreConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	n, err := chat.ParseName("alice")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := passwords.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(context.Background(), chat.Account{Name: "alice", Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	cfg.Now = clk.Now
	cfg.History, cfg.Bans = s, s
	cfg.Accounts = s
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	return chattest.StartChat(t, line, cfg, nil), clk
}

// try connects from ip, answers the name prompt with name and pw, and expects the answer
// want, then the prompt again unless want is the welcome. Each try is a connection of its own,
// as a guesser's would be.
func try(t *testing.T, addr, ip, name, pw, want string) *chattest.Client {
	t.Helper()
	c := chattest.DialFrom(t, ip, addr)
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect("\xff\xfb\x01*** password for alice:") // IAC WILL ECHO: a telnet client hides what is typed
	c.Send(pw)
	c.Expect("\xff\xfc\x01" + want) // IAC WONT ECHO: it shows it again
	if want != "Welcome, "+name+"!" {
		c.Expect("What's your name?")
	}
	return c
}

func TestLoginSlowed(t *testing.T) {
	const pw = "correct horse battery"
	m := metrics.New()
	cfg := chat.DefaultConfig()
	cfg.Observer = m
	srv, clk := startWithAccounts(t, cfg, pw)

	try(t, srv.Addr, "127.0.0.2", "alice", "guess one", "*** wrong password")
	// Each wrong password doubles the wait of this address for this account: 1s, 2s, 4s.
	try(t, srv.Addr, "127.0.0.2", "ALICE", pw, "*** too many wrong passwords for alice: try again in 1s")
	clk.Add(time.Second)
	try(t, srv.Addr, "127.0.0.2", "alice", "guess two", "*** wrong password")
	clk.Add(1700 * time.Millisecond)
	// A wait is told in whole seconds, rounded up: never "try again in 0s".
	try(t, srv.Addr, "127.0.0.2", "alice", pw, "*** too many wrong passwords for alice: try again in 1s")
	clk.Add(300 * time.Millisecond)
	try(t, srv.Addr, "127.0.0.2", "alice", "guess three", "*** wrong password")
	clk.Add(3 * time.Second)
	try(t, srv.Addr, "127.0.0.2", "alice", "guess four", "*** too many wrong passwords for alice: try again in 1s")
	// An empty line is no guess: back to the name prompt, nothing counted.
	guesser := chattest.DialFrom(t, "127.0.0.2", srv.Addr)
	guesser.Expect("What's your name?")
	guesser.Send("alice")
	guesser.Expect("\xff\xfb\x01*** password for alice:")
	// An Enter typed too soon is no answer: the question stays, so the password typed next is
	// still taken as one; a second empty line gives up.
	guesser.Send("")
	guesser.Expect("\xff\xfc\x01*** no password given: type it, or an empty line again to give up (it will show as you type)")
	guesser.Send("   ") // spaces are no guess either
	guesser.Expect("*** no password given: choose a name again", "What's your name?")
	// Nor is leaving.
	guesser.Send("alice")
	guesser.Expect("*** password for alice (it will show as you type):")
	guesser.Send("/quit")
	guesser.Expect("*** goodbye")
	guesser.ExpectClosed()

	// The owner, from another address, is not held up by the guesser.
	try(t, srv.Addr, "127.0.0.3", "alice", pw, "Welcome, alice!")

	got := counters(t, m, "hubbub_login_failures_total")
	want := map[string]float64{"wrong_password": 3, "waiting": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hubbub_login_failures_total = %v, want %v", got, want)
	}
}
