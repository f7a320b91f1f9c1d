package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// accountResult is what one `hubbub account` run printed, and its exit code.
type accountResult struct {
	stdout, stderr string
	code           int
}

// runAccount runs `hubbub account args...` with stdin as its standard input (not a terminal)
// and env added to the test's environment.
func runAccount(t *testing.T, env []string, stdin string, args ...string) accountResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*chattest.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"account"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := accountResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("hubbub account %q: %v", args, err)
	}
	return r
}

// mustAccount runs `hubbub account args...` and fails the test unless it succeeds.
func mustAccount(t *testing.T, stdin string, args ...string) accountResult {
	t.Helper()
	r := runAccount(t, nil, stdin, args...)
	if r.code != 0 {
		t.Fatalf("hubbub account %q: exit %d: %s", args, r.code, r.stderr)
	}
	return r
}

// What the server sends to turn a telnet client's echo off, and back on, around a password.
const (
	willEcho = "\xff\xfb\x01"
	wontEcho = "\xff\xfc\x01"
)

// tryLogIn answers the name prompt of a new connection from ip with name and pw, and returns
// the server's answer to the password.
func tryLogIn(t *testing.T, ip, addr, name, pw string) (*chattest.Client, string) {
	t.Helper()
	c := chattest.DialFrom(t, ip, addr)
	c.Expect("What's your name?")
	c.Send(name)
	if line := c.ReadLine(); line != willEcho+"*** password for "+name+":" {
		t.Fatalf("got %q, want the password question", line)
	}
	c.Send(pw)
	return c, strings.TrimPrefix(c.ReadLine(), wontEcho)
}

// TestAccountCommandsBesideServer: `hubbub account` changes the database of a running server
// (another process on the same file): an account it creates logs in over TCP with its
// password; after reset-password the old password is refused and the new one works; once
// deleted, the name is a guest's again.
func TestAccountCommandsBesideServer(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, "", "--data-dir", dir)
	addr := p.addrs["chat"]

	const first, second = "first horse battery", "second horse battery"
	r := mustAccount(t, first+"\n", "create", "alice", "--data-dir", dir)
	if r.stdout != "created account alice\n" {
		t.Errorf("create said %q", r.stdout)
	}
	alice, line := tryLogIn(t, "127.0.0.1", addr, "alice", first)
	if line != "Welcome, alice!" {
		t.Fatalf("login with the password given to create: %q", line)
	}
	alice.Send("/quit")
	alice.ExpectClosed()

	r = mustAccount(t, second+"\r\n", "reset-password", "ALICE", "--data-dir", dir)
	if !strings.HasPrefix(r.stdout, "changed the password of alice: ") {
		t.Errorf("reset-password said %q", r.stdout)
	}
	// Each from an address that never failed on the account: no wait is asked of it.
	c, line := tryLogIn(t, "127.0.0.2", addr, "alice", first)
	if line != "*** wrong password" {
		t.Fatalf("the old password after reset-password: %q", line)
	}
	c.Conn.Close()
	alice, line = tryLogIn(t, "127.0.0.3", addr, "alice", second)
	if line != "Welcome, alice!" {
		t.Fatalf("the new password after reset-password: %q", line)
	}
	alice.Send("/quit")
	alice.ExpectClosed()

	r = mustAccount(t, "", "delete", "alice", "--data-dir", dir)
	if !strings.HasPrefix(r.stdout, "deleted account alice") {
		t.Errorf("delete said %q", r.stdout)
	}
	chattest.Join(t, addr, "alice") // a guest now: no password asked
	if r := runAccount(t, nil, "", "show", "alice", "--data-dir", dir); r.code != 1 || r.stdout != "" ||
		r.stderr != "hubbub account: no account alice (hubbub account list shows them)\n" {
		t.Errorf("show after delete: %+v", r)
	}
}

// TestAccountJSONAndOper: --json prints one document (list: an array) with no hash; oper
// marks an account and --off unmarks it; unknown accounts are refused with exit status 1 and
// a line on stderr, for every command that names one.
func TestAccountJSONAndOper(t *testing.T) {
	dir := t.TempDir()
	var list []map[string]any
	mustAccount(t, "a good password\n", "create", "Carol", "--data-dir", dir)
	mustAccount(t, "a good password\n", "--data-dir", dir, "create", "bob")
	r := mustAccount(t, "", "oper", "carol", "--data-dir", dir)
	if !strings.Contains(r.stdout, "Carol is an operator: the server gives the rights at its next login") {
		t.Errorf("oper said %q", r.stdout)
	}
	r = mustAccount(t, "", "list", "--json", "--data-dir", dir)
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("list --json: %v: %s", err, r.stdout)
	}
	if len(list) != 2 || list[0]["name"] != "bob" || list[0]["operator"] != false ||
		list[1]["name"] != "Carol" || list[1]["operator"] != true {
		t.Errorf("list --json: %s", r.stdout)
	}
	for _, acc := range list {
		if _, ok := acc["created"].(string); !ok || acc["id"] == nil || len(acc) != 4 {
			t.Errorf("listed %v: want name, id, created and operator only", acc)
		}
	}
	mustAccount(t, "", "oper", "Carol", "--off", "--data-dir", dir)
	var shown map[string]any
	r = mustAccount(t, "", "show", "carol", "--json", "--data-dir", dir)
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown["name"] != "Carol" || shown["operator"] != false {
		t.Errorf("show --json after oper --off: %s (%v)", r.stdout, err)
	}
	if strings.Contains(r.stdout, "argon2") {
		t.Errorf("show --json printed the hash: %s", r.stdout)
	}
	r = mustAccount(t, "", "show", "carol", "--data-dir", dir)
	if !strings.Contains(r.stdout, "name      Carol\n") || !strings.Contains(r.stdout, "operator  no\n") || strings.Contains(r.stdout, "argon2") {
		t.Errorf("show: %q", r.stdout)
	}

	for _, args := range [][]string{{"show", "dave"}, {"delete", "dave"}, {"oper", "dave"}, {"reset-password", "dave"}} {
		r := runAccount(t, nil, "a good password\n", append(args, "--data-dir", dir)...)
		if r.code != 1 || r.stdout != "" || r.stderr != "hubbub account: no account dave (hubbub account list shows them)\n" {
			t.Errorf("%s of an unknown account: %+v", args[0], r)
		}
	}
}

// TestAccountCreateRefuses: what the server would refuse is refused, with exit status 1, a
// short reason, and no account made: bad and reserved names, look-alikes of an account, bad
// passwords, no password. A password is never taken from the command line.
func TestAccountCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	mustAccount(t, "a good password\n", "create", "alice", "--data-dir", dir)
	for _, tc := range []struct {
		name, stdin, why string
	}{
		{"admin", "a good password\n", "admin: that name is reserved"},
		{"5erver", "a good password\n", "5erver: that name is reserved"},
		{"help", "a good password\n", "help: that name is reserved"},
		{"a\x1b[31mb", "a good password\n", `"a\x1b[31mb": names cannot contain control characters`},
		{"ＡＬＩＣＥ", "a good password\n", "ALICE is registered, or a name like it: alice"},
		{"dave", "short\n", "a password needs at least 8 characters; nothing was changed"},
		{"dave", "", "no password: type it on a terminal, or give it as the first line of the standard input; nothing was changed"},
		{"dave", "\n", "no password: type it on a terminal, or give it as the first line of the standard input; nothing was changed"},
		{"dave", strings.Repeat("x", 5000) + "\n", "the first line of the standard input is too long for a password; nothing was changed"},
	} {
		r := runAccount(t, nil, tc.stdin, "create", tc.name, "--data-dir", dir)
		if r.code != 1 || r.stdout != "" || r.stderr != "hubbub account: "+tc.why+"\n" {
			t.Errorf("create %q with %.20q: %+v; want exit 1 and %q", tc.name, tc.stdin, r, tc.why)
		}
	}
	for _, args := range [][]string{
		{"create", "dave", "--password", "a good password"},
		{"create"},
		{"create", "dave", "erin"},
		{"list", "dave"},
		{"show", "alice", "--off"},
		{"frob", "alice"},
		{},
	} {
		if r := runAccount(t, nil, "a good password\n", append(args, "--data-dir", dir)...); r.code != 2 || r.stdout != "" {
			t.Errorf("%q: %+v; want exit 2", args, r)
		}
	}
	r := mustAccount(t, "", "list", "--data-dir", dir)
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "alice") {
		t.Errorf("accounts after the refusals:\n%s", r.stdout)
	}
}

// TestAccountDataDirAsServe: the data directory comes from --data-dir, else HUBBUB_DATA_DIR,
// else the --config file (or HUBBUB_CONFIG's), as for serve; a directory with no database is
// refused except by create, rather than given an empty one the server would not read.
func TestAccountDataDirAsServe(t *testing.T) {
	fromFile, fromEnv, fromFlag := t.TempDir(), t.TempDir(), t.TempDir()
	config := filepath.Join(t.TempDir(), "hubbub.toml")
	if err := os.WriteFile(config, []byte("data-dir = \""+fromFile+"\"\nchat-addr = \"127.0.0.1:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	create := func(env []string, name string, args ...string) {
		t.Helper()
		if r := runAccount(t, env, "a good password\n", append([]string{"create", name}, args...)...); r.code != 0 {
			t.Fatalf("create %s: %+v", name, r)
		}
	}
	create(nil, "infile", "--config", config)
	create([]string{"HUBBUB_DATA_DIR=" + fromEnv}, "inenv", "--config", config)
	create([]string{"HUBBUB_DATA_DIR=" + fromEnv}, "inflag", "--config", config, "--data-dir", fromFlag)
	for dir, want := range map[string]string{fromFile: "infile", fromEnv: "inenv", fromFlag: "inflag"} {
		r := mustAccount(t, "", "list", "--json", "--data-dir", dir)
		var list []struct{ Name string }
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Name != want {
			t.Errorf("%s holds %s (%v); want only %s", dir, r.stdout, err, want)
		}
	}
	r := runAccount(t, []string{"HUBBUB_CONFIG=" + config}, "", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "infile") {
		t.Errorf("list with HUBBUB_CONFIG: %+v", r)
	}

	empty := filepath.Join(t.TempDir(), "nothing")
	r = runAccount(t, nil, "", "list", "--data-dir", empty)
	if r.code != 1 || !strings.Contains(r.stderr, "no database at "+filepath.Join(empty, "hubbub.db")) {
		t.Errorf("list of a directory with no database: %+v", r)
	}
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("list made %s: %v", empty, err)
	}

	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("no-such-setting = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runAccount(t, nil, "", "list", "--config", bad); r.code != 2 || !strings.Contains(r.stderr, `unknown setting "no-such-setting"`) {
		t.Errorf("a config file serve refuses: %+v", r)
	}
}

// TestAccountPasswordOnTerminal: on a terminal the password is asked twice and nothing of it
// is shown; two that differ make nothing.
func TestAccountPasswordOnTerminal(t *testing.T) {
	dir := t.TempDir()
	const pw = "terminal horse battery"
	term := startPTY(t, binary, "account", "create", "erin", "--data-dir", dir)
	term.expect("password for erin (a password has at least 8 characters")
	term.typeLine(pw)
	term.expect("the same password again: ")
	term.typeLine(pw)
	term.expect("created account erin")
	if term.shows(pw) {
		t.Fatal("the terminal showed the password")
	}

	term = startPTY(t, binary, "account", "reset-password", "erin", "--data-dir", dir)
	term.expect("password for erin (")
	term.typeLine(pw + " uno")
	term.expect("the same password again: ")
	term.typeLine(pw + " dos")
	term.expect("hubbub account: the two passwords differ; nothing was changed")
	if term.shows("battery") {
		t.Fatal("the terminal showed a password")
	}
}

// TestHelpListsAccount: hubbub help names the account commands.
func TestHelpListsAccount(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "hubbub account COMMAND") {
		t.Errorf("hubbub help (%d) does not list account:\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"account", "--help"}, &out, &out); code != 0 {
		t.Errorf("hubbub account --help: exit %d", code)
	}
	for _, cmd := range []string{"list", "show NAME", "create NAME", "reset-password NAME", "delete NAME", "oper NAME [--off]", "--json", "--data-dir"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("hubbub account --help does not list %q:\n%s", cmd, out.String())
		}
	}
}
