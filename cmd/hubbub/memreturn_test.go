package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/memreturn"
)

// readUntilAll reads c's lines until one contains every part, and fails the test if none comes.
func readUntilAll(t *testing.T, c *chattest.Client, parts ...string) {
	t.Helper()
	for {
		if line := c.ReadLine(); hasAll(line, parts) {
			return
		}
	}
}

// TestIdleUsersAfterMemoryReturned: users idle through a join storm (a line user, an IRC user
// and a browser, each parked with no goroutine of its own) still talk to each other once the
// server has given the storm's memory back to the kernel.
func TestIdleUsersAfterMemoryReturned(t *testing.T) {
	m, addrs := startMain(t, func(c *Config) {
		c.NoHistory = true
		c.Line.RegisterTimeout = 0
		c.MemoryReturn = memreturn.Config{
			Quiet: 300 * time.Millisecond, QuietRate: 256 << 10, Burst: 2 << 20, Tick: 50 * time.Millisecond,
		}
	})
	alice := chattest.Join(t, addrs["chat"], "alice")
	irc := chattest.Dial(t, addrs["irc"])
	irc.Send("NICK iris")
	irc.Send("USER iris 0 * :Iris")
	irc.Send("JOIN #lobby")
	readUntilAll(t, irc, "JOIN", "#lobby")
	readUntilAll(t, alice, "iris has joined")
	web := joinWeb(t, addrs["http"], "wendy")
	readUntilAll(t, alice, "wendy has joined")

	before := m.memory.Returns()
	const storm = 300
	users := make([]*chattest.Client, storm)
	for i := range users {
		users[i] = chattest.Join(t, addrs["chat"], fmt.Sprint("storm", i))
		users[i].Send(fmt.Sprint("hello from ", i, " ", strings.Repeat("x", 200)))
	}
	for _, u := range users {
		u.Conn.Close()
	}
	readUntilAll(t, alice, fmt.Sprint("storm", storm-1, " has left"))
	chattest.WaitFor(t, "the storm's memory returned", func() bool { return m.memory.Returns() > before })

	alice.Send("still here after the return")
	readUntilAll(t, irc, "PRIVMSG #lobby :still here after the return")
	web.expect(`"from":"alice"`, "still here after the return")
	irc.Send("PRIVMSG #lobby :iris too")
	readUntilAll(t, alice, "<iris> iris too")
	web.send("wendy too")
	readUntilAll(t, alice, "<wendy> wendy too")
	readUntilAll(t, irc, "PRIVMSG #lobby :wendy too")
}
