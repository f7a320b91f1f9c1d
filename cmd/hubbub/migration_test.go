package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"hubbub/internal/chattest"
)

// The database testdata/db-a88f2e7/README.md says how it was made: the binary of commit a88f2e7
// (schema 0004), where olduser registered with oldPassword, said two lines in #lobby and two in
// #go, the guest oldguest one line in #lobby, and the name spammer was banned.
const (
	oldDB       = "testdata/db-a88f2e7/hubbub.db"
	oldPassword = "oldpassword1"
)

// stamp is the time a history line starts with; it depends on the zone the test runs in.
var stamp = regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d\] `)

// unstamped returns lines without their history time, and only those that had one.
func unstamped(lines []string) []string {
	var out []string
	for _, l := range lines {
		if stamp.MatchString(l) {
			out = append(out, stamp.ReplaceAllString(l, ""))
		}
	}
	return out
}

// copyOldDB copies the database made by the old binary into a new data directory.
func copyOldDB(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(oldDB)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"-wal", "-shm"} { // a clean stop leaves none: all is in the file
		if _, err := os.Stat(oldDB + side); !os.IsNotExist(err) {
			t.Fatalf("%s%s exists (%v): the fixture was not checkpointed", oldDB, side, err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hubbub.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// stop ends p with SIGTERM and waits for a clean exit.
func stop(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
}

// registerOnLine makes the guest c, who holds name, register it with pw (nc: no telnet answer).
func registerOnLine(t *testing.T, c *chattest.Client, name, pw string) {
	t.Helper()
	c.Send("/register")
	if l := c.ReadLine(); !strings.HasPrefix(l, willEcho+"*** choose a password for "+name+" ") {
		t.Fatalf("got %q, want the first password question", l)
	}
	c.Send(pw)
	if l := c.ReadLine(); !strings.Contains(l, "*** the same password again") {
		t.Fatalf("got %q, want the second password question", l)
	}
	c.Send(pw)
	c.Expect("*** " + name + " is registered to you: next time, choosing " + name + " asks for this password")
}

// TestMigrationFromA88f2e7: today's binary, started on a database that the binary of the
// start of the day (commit a88f2e7) made, upgrades it in place and keeps what it held: the
// account logs in with its password, the rooms' history is there, the ban still holds; and
// what is new works on it: registering, private history between two accounts (also after a
// restart), `hubbub account list`.
func TestMigrationFromA88f2e7(t *testing.T) {
	dir := copyOldDB(t)
	p := startProc(t, "", "--data-dir", dir)
	addr := p.addrs["chat"]

	old, line := tryLogIn(t, "127.0.0.1", addr, "olduser", oldPassword)
	if line != "Welcome, olduser!" {
		t.Fatalf("olduser with the password registered on the old binary: %q", line)
	}
	lobby := []string{
		"<olduser> hello from before the upgrade",
		"<olduser> second old line in lobby",
		"<oldguest> a guest line in lobby",
	}
	if got := unstamped(readUntil(t, old, "*** end of history")); !slices.Equal(got, lobby) {
		t.Errorf("#lobby's replay: %q, want %q", got, lobby)
	}
	old.Send("/history 50")
	old.Expect("*** no earlier history") // the replay showed all the old lines: none was lost
	old.Send("/join #go")
	goLines := []string{"<olduser> gophers said this before", "* olduser waves from go"}
	if got := unstamped(readUntil(t, old, "*** end of history")); !slices.Equal(got, goLines) {
		t.Errorf("#go's replay: %q, want %q", got, goLines)
	}
	readUntil(t, old, "*** you made #go and own it: plain lines now go there")
	old.Send("/join #lobby")
	old.Expect("*** now talking in #lobby")

	// The ban by name set on the old binary, for the name and its look-alikes.
	banned := chattest.DialFrom(t, "127.0.0.2", addr)
	for _, name := range []string{"spammer", "SPAMMER"} {
		banned.Expect("What's your name?")
		banned.Send(name)
		banned.Expect("*** that name is banned, please choose other")
	}

	// A new account, from another address (registrations are counted per address).
	banned.Expect("What's your name?")
	banned.Send("newbie")
	banned.Expect("Welcome, newbie!")
	newbie := banned
	readUntil(t, newbie, "*** end of history")
	readUntil(t, old, "newbie has joined the channel")
	const newPassword = "newbie's password"
	registerOnLine(t, newbie, "newbie", newPassword)

	old.Send("/msg newbie hi newbie, olduser here")
	newbie.Expect("[PM from olduser] hi newbie, olduser here")
	newbie.Send("/msg olduser hello back")
	newbie.Expect("[PM to olduser] hello back")
	readUntil(t, old, "[PM from newbie] hello back")
	old.Send("/quit")
	old.ExpectClosed()
	newbie.Send("/quit")
	newbie.ExpectClosed()

	r := mustAccount(t, "", "list", "--json", "--data-dir", dir)
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("list --json: %v: %s", err, r.stdout)
	}
	var names []string
	for _, acc := range list {
		names = append(names, acc["name"].(string))
	}
	if !slices.Equal(names, []string{"newbie", "olduser"}) {
		t.Errorf("hubbub account list: %s, want newbie and olduser", r.stdout)
	}

	// Both sides of the private talk are kept for each of the two, also after a restart.
	stop(t, p)
	p = startProc(t, "", "--data-dir", dir)
	addr = p.addrs["chat"]
	talk := map[string][]string{
		"olduser": {"[PM to newbie] hi newbie, olduser here", "[PM from newbie] hello back"},
		"newbie":  {"[PM from olduser] hi newbie, olduser here", "[PM to olduser] hello back"},
	}
	for _, who := range []struct{ name, pw, ip, other string }{
		{"olduser", oldPassword, "127.0.0.1", "newbie"},
		{"newbie", newPassword, "127.0.0.2", "olduser"},
	} {
		c, line := tryLogIn(t, who.ip, addr, who.name, who.pw)
		if line != "Welcome, "+who.name+"!" {
			t.Fatalf("%s after the restart: %q", who.name, line)
		}
		readUntil(t, c, "*** end of history")
		c.Send("/history " + who.other)
		got := unstamped(readUntil(t, c, "*** end of history: nothing earlier"))
		if !slices.Equal(got, talk[who.name]) {
			t.Errorf("%s's /history %s: %q, want %q", who.name, who.other, got, talk[who.name])
		}
		c.Send("/quit")
		c.ExpectClosed()
	}
	stop(t, p)
}
