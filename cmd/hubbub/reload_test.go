package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"hubbub/internal/chattest"
)

// TestReloadOnSIGHUP changes the configuration file and the message of the day, sends SIGHUP,
// and finds the new log level, connection limits and message in force, with nobody dropped.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	motd := filepath.Join(dir, "motd.txt")
	conf := filepath.Join(dir, "hubbub.toml")
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(motd, "old news\n")
	write(conf, "motd-file = \""+motd+"\"\nlog-level = \"info\"\n")
	p := startProc(t, "", "--config", conf)
	alice := chattest.Join(t, p.addrs["chat"], "alice")
	alice.Expect("*** old news")

	write(motd, "fresh news\n")
	write(conf, "motd-file = \""+motd+"\"\nlog-level = \"debug\"\nmax-conns-per-ip = 1\nlimit-exempt = \"\"\nmax-line = 100\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.logs.WaitFor(t, "msg=reloaded", "log-level", "max-conns-per-ip", "motd")
	p.logs.WaitFor(t, "change only on restart", "settings=max-line")

	// alice holds the one connection 127.0.0.1 may now have.
	refused := chattest.Dial(t, p.addrs["chat"])
	refused.Expect("*** too many connections from your address (max 1)")
	bob := chattest.DialFrom(t, "127.0.0.2", p.addrs["chat"])
	bob.Register("bob")
	bob.Expect("*** fresh news")
	p.logs.WaitFor(t, "level=DEBUG", "msg=registered", "name=bob")
	alice.Expect("bob has joined the channel") // still here
}

// TestReloadWithMissingMOTD deletes the message of the day's file and sends SIGHUP: the log
// says the file could not be read and that the reload failed for it, and users still get the
// old message.
func TestReloadWithMissingMOTD(t *testing.T) {
	motd := filepath.Join(t.TempDir(), "motd.txt")
	if err := os.WriteFile(motd, []byte("old news\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "", "--motd-file", motd)
	if err := os.Remove(motd); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.logs.WaitFor(t, "level=ERROR", "cannot read the message of the day", "file="+motd, "no such file")
	p.logs.WaitFor(t, "level=WARN", "msg=reloaded", "failed=motd-file")
	c := chattest.Join(t, p.addrs["chat"], "alice")
	c.Expect("*** old news")
}
