package lineproto_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/password"
	"hubbub/internal/sqlite"
)

// startWithAccounts runs a chat whose history and accounts are kept in a real SQLite file in
// dir, on a clock the test moves (so that a wait the server asks for is passed by moving it).
func startWithAccounts(t *testing.T, dir string) (*chattest.Server, *chattest.Clock) {
	t.Helper()
	store := sqlite.DefaultConfig(filepath.Join(dir, "hubbub.db"))
	store.RetainEvery = 0
	s, err := sqlite.Open(t.Context(), store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clk := chattest.NewClock()
	chatCfg := chat.DefaultConfig()
	chatCfg.History, chatCfg.Bans = s, s
	chatCfg.Accounts = s
	chatCfg.Now = clk.Now
	srv := chattest.StartChat(t, testConfig(), chatCfg, nil)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv, clk
}

// readTo reads lines until one starts with prefix and returns it. No line may show a
// password of these tests.
func readTo(t *testing.T, c *chattest.Client, prefix string) string {
	t.Helper()
	for {
		line := c.ReadLine()
		if strings.Contains(line, "horse") || strings.Contains(line, "not the password") {
			t.Fatalf("a password was shown: %q", line)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

// What the server sends to turn a telnet client's echo off, and back on, around a password.
const (
	willEcho = "\xff\xfb\x01"
	wontEcho = "\xff\xfc\x01"
)

// register runs /register for c, named name, with pw.
func register(t *testing.T, c *chattest.Client, name, pw string) {
	t.Helper()
	c.Send("/register")
	c.Expect(willEcho + "*** choose a password for " + name + " (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	c.Send(pw)
	// nc did not answer the offer to hide the first: the second is said to show.
	c.Expect(wontEcho + "*** the same password again (it will show as you type)")
	c.Send(pw)
	c.Expect("*** " + name + " is registered to you: next time, choosing " + name + " asks for this password")
}

// logIn answers the name prompt with name and pw; when the server asks to wait, the clock is
// moved past the wait and it tries again.
func logIn(t *testing.T, c *chattest.Client, clk *chattest.Clock, name, pw string) {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		c.Send(name)
		if line := c.ReadLine(); line != willEcho+"*** password for "+name+":" && line != "*** password for "+name+" (it will show as you type):" {
			t.Fatalf("got %q, want the password question", line)
		}
		c.Send(pw)
		line := strings.TrimPrefix(c.ReadLine(), wontEcho)
		if line == "Welcome, "+name+"!" {
			return
		}
		if !strings.HasPrefix(line, "*** too many wrong passwords for "+name+": try again in ") || time.Now().After(deadline) {
			t.Fatalf("got %q, want the welcome", line)
		}
		c.Expect("What's your name?")
		clk.Add(time.Minute) // past the wait the server asked for
	}
}

func TestRegisterThenLogIn(t *testing.T) {
	dir := t.TempDir()
	srv, clk := startWithAccounts(t, dir)
	const pw = "correct horse battery"
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	readTo(t, alice, "bob has joined")
	register(t, alice, "alice", pw)
	alice.Send("after")
	bob.Expect("<alice> after") // nothing of the password came before it
	alice.Send("/quit")
	alice.ExpectClosed()
	readTo(t, bob, "alice has left")

	// A guest cannot take the name or a look-alike of it without the password.
	for _, name := range []string{"ALICE", "ａｌｉｃｅ", "alice"} {
		c := chattest.Dial(t, srv.Addr)
		c.Expect("What's your name?")
		c.Send(name)
		c.Expect(willEcho + "*** password for alice:")
		c.Conn.Close()
	}
	guess := chattest.Dial(t, srv.Addr)
	guess.Expect("What's your name?")
	guess.Send("alice")
	guess.Expect(willEcho + "*** password for alice:")
	guess.Send("not the password")
	guess.Expect(wontEcho+"*** wrong password", "What's your name?")
	// Slowed: at once, even the right password is not checked.
	guess.Send("alice")
	guess.Expect("*** password for alice (it will show as you type):")
	guess.Send(pw)
	if line := guess.ReadLine(); !strings.HasPrefix(line, "*** too many wrong passwords for alice: try again in ") {
		t.Fatalf("got %q, want to be told to wait", line)
	}
	guess.Expect("What's your name?")
	// Nor /nick to it.
	carol := chattest.Join(t, srv.Addr, "carol")
	readTo(t, carol, "*** end of history") // the replay
	for _, name := range []string{"alice", "Alice", "ａｌｉｃｅ"} {
		carol.Send("/nick " + name)
		if line := readTo(t, carol, "*** "); !strings.HasSuffix(line, " is registered: choose another name") {
			t.Fatalf("/nick %s: got %q", name, line)
		}
	}

	back := chattest.Dial(t, srv.Addr)
	back.Expect("What's your name?")
	logIn(t, back, clk, "alice", pw)
	back.Send("/nick ALICE") // a look-alike of one's own account is one's own
	readTo(t, back, "alice is now known as ALICE")
	readTo(t, bob, "alice is now known as ALICE")

	// The password went nowhere: not to bob, not to the log, not to the database.
	bob.Send("/history")
	readTo(t, bob, "*** end of history")
	if logs := srv.Logs.String(); strings.Contains(logs, "horse") || strings.Contains(logs, "not the password") {
		t.Errorf("a password is in the log:\n%s", logs)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "horse") {
			t.Errorf("%s holds the password", f)
		}
	}
}

func TestRegisterRefusals(t *testing.T) {
	srv, _ := startWithAccounts(t, t.TempDir())
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.Send("/register")
	readTo(t, alice, willEcho+"*** choose a password for alice")
	alice.Send("short")
	alice.Expect(wontEcho + "*** a password needs at least 8 characters; nothing was registered, /register to try again")
	alice.Send("/register")
	alice.Expect("*** choose a password for alice (" + password.Rule + ") (it will show as you type)")
	alice.Send("first password")
	alice.Expect("*** the same password again (it will show as you type)")
	alice.Send("other password")
	alice.Expect("*** the two passwords differ; nothing was registered, /register to try again")
	alice.Send("/register my password")
	alice.Expect("*** usage: /register, then type the password when asked (not on the same line)")
	alice.Send("back to chat")
	alice.Send("/who")
	alice.Expect("*** #lobby (1): alice")
	// Still a guest: whoever comes next may take the name.
	alice.Send("/quit")
	alice.ExpectClosed()
	chattest.Join(t, srv.Addr, "alice")
}

func TestRegisterWithoutAccounts(t *testing.T) {
	srv := chattest.Start(t, testConfig())
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.Send("/register")
	alice.Expect("*** accounts are off on this server")
}

// TestPasswordEchoNegotiation answers the server's offers to echo as telnet does: DO ECHO
// while a password is typed is the client's agreement, answered by nothing; the server's
// WONT ECHO then ends the client's silent line; DO ECHO at other times is refused once.
func TestPasswordEchoNegotiation(t *testing.T) {
	const (
		doEcho   = "\xff\xfd\x01"
		dontEcho = "\xff\xfe\x01"
	)
	srv, _ := startWithAccounts(t, t.TempDir())
	alice := chattest.Join(t, srv.Addr, "alice")
	alice.Send("/register")
	readTo(t, alice, willEcho+"*** choose a password for alice")
	alice.Write(doEcho + "first password\r\n")
	alice.Expect(wontEcho, willEcho+"*** the same password again")
	alice.Write(dontEcho + doEcho + "other password\r\n") // telnet's answers to WONT, then WILL
	alice.Expect(wontEcho, "*** the two passwords differ; nothing was registered, /register to try again")
	alice.Write(dontEcho + "/who\r\n") // the answer to WONT: nothing to answer
	alice.Expect("*** #lobby (1): alice")
	alice.Write(doEcho + "/who\r\n")
	alice.Expect(wontEcho + "*** #lobby (1): alice") // not hiding: refused, once
	alice.Write(doEcho + "/who\r\n")
	alice.Expect("*** #lobby (1): alice")
}
