package ircproto_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/ircproto"
	"hubbub/internal/lineproto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// chatServers is one chat with its line door (telnet, nc) and its IRC door.
type chatServers struct {
	*chattest.Server
	IRC string // the IRC door's address
}

// start runs a chat with cfg behind both doors on 127.0.0.1:0.
func start(t testing.TB, cfg chat.Config, limits ...func(*lineproto.Config)) *chatServers {
	t.Helper()
	lc := lineproto.DefaultConfig()
	lc.LineRate = 0
	for _, f := range limits {
		f(&lc)
	}
	srv := chattest.StartChat(t, lc, cfg, nil)
	irc := ircproto.NewServer(lc, srv.Hub, nil, slogTo(srv.Logs))
	return &chatServers{Server: srv, IRC: chattest.Serve(t, irc)}
}

// ircUser is a test IRC client.
type ircUser struct {
	*chattest.Client
	t    testing.TB
	nick string
}

func dialIRC(t testing.TB, addr string) *ircUser {
	t.Helper()
	return &ircUser{Client: chattest.Dial(t, addr), t: t}
}

// until reads lines until one contains every part, and returns it.
func (u *ircUser) until(parts ...string) string {
	u.t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for time.Now().Before(deadline) {
		line, err := u.TryReadLine(time.Until(deadline))
		if err != nil {
			u.t.Fatalf("waiting for a line with %q: %v", parts, err)
		}
		if containsAll(line, parts) {
			return line
		}
	}
	u.t.Fatalf("no line with %q", parts)
	return ""
}

// sync sends a PING and reads up to its PONG, returning the lines before it.
func (u *ircUser) sync() []string {
	u.t.Helper()
	u.Send("PING :sync")
	var lines []string
	for {
		line := u.ReadLine()
		if strings.HasSuffix(line, "PONG hubbub :sync") {
			return lines
		}
		lines = append(lines, line)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// registerIRC connects to addr as nick and waits for the lobby's names.
func registerIRC(t testing.TB, addr, nick string) *ircUser {
	t.Helper()
	u := dialIRC(t, addr)
	u.nick = nick
	u.Send("NICK " + nick)
	u.Send("USER " + nick + " 0 * :" + nick)
	u.until(" 001 " + nick + " ")
	u.until(" 366 " + nick + " #lobby ")
	return u
}

// waitLine reads c's lines until one contains every part, and returns it.
func waitLine(t *testing.T, c *chattest.Client, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		line, err := c.TryReadLine(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for a line with %q: %v", parts, err)
		}
		if containsAll(line, parts) {
			return line
		}
	}
}
