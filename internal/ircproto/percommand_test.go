package ircproto_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// TestIRCListsBoundedPerCommand has an IRC client in ten big channels (each one's NAMES and WHO
// longer than a list may be) do what WeeChat and HexChat do on connecting: JOIN all ten, then
// NAMES and WHO of each, in one write, before it reads anything. It reads everything and is
// never dropped, even when it reads only once the server handled it all: the lists of one command share one bound (the ten channels of a JOIN, of a
// NAMES alone), and a list built while earlier answers wait unread is cut to what is left, so
// that answers asked together never pass the hard cap. NAMES alone, read at leisure, lists the
// client's eleven channels within one list's bound, each 366 saying what was left out and why.
func TestIRCListsBoundedPerCommand(t *testing.T) {
	const (
		maxQueue = 4 << 10 // a hard cap of 16 KiB; a list is at most 4 lines (2 KiB)
		rooms    = 10
		members  = 70 // of 32 characters: 2.3 KB of names in each channel, 7 KB of WHO
	)
	cfg := chat.DefaultConfig()
	cfg.MaxRoomsPerUser = rooms + 1
	srv := start(t, cfg, func(c *lineproto.Config) {
		c.MaxQueue = maxQueue
		c.WriteTimeout = time.Hour // nothing but the hard cap drops a client here
	})
	var channels []string
	for i := range rooms {
		channels = append(channels, fmt.Sprintf("#b%d", i))
	}
	for i := range members {
		u := registerIRC(t, srv.IRC, fmt.Sprintf("member%02d%s", i, strings.Repeat("x", chat.MaxNameLen-8)))
		for _, ch := range channels {
			u.Send("JOIN " + ch) // one at a time: this member is no test of JOIN's lists
			u.until(" 366 ", ch+" ")
		}
	}

	// A small receive window, so that what the client has not read stays on the server's side.
	conn := dialSmallWindow(t, srv.IRC)
	conn.SetDeadline(time.Now().Add(chattest.Timeout))
	r := bufio.NewReader(conn)
	readUntil := func(parts ...string) []string {
		t.Helper()
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading, after %d lines, for %q: %v\n%s", len(lines), parts, err, srv.Logs)
			}
			lines = append(lines, line)
			if containsAll(line, parts) {
				return lines
			}
		}
	}
	io.WriteString(conn, "NICK reader\r\nUSER reader 0 * :reader\r\n")
	readUntil(" 366 reader #lobby ")
	ask := "JOIN " + strings.Join(channels, ",") + "\r\n"
	for _, ch := range channels {
		ask += "NAMES " + ch + "\r\nWHO " + ch + "\r\n"
	}
	// Read once the server has handled it all, as a busy client or a slow link would: the
	// observer hears the line that ends it (or that the reader went).
	observer := registerIRC(t, srv.IRC, "observer")
	observer.Send("JOIN " + channels[rooms-1])
	observer.until(" 366 observer " + channels[rooms-1] + " ")
	io.WriteString(conn, ask+"PRIVMSG "+channels[rooms-1]+" :asked\r\n")
	for {
		line := observer.until(":reader!")
		if strings.Contains(line, " PRIVMSG "+channels[rooms-1]+" :asked") {
			break
		}
		if strings.Contains(line, " QUIT ") {
			t.Fatalf("the reader went before it could read its answers: %q\n%s", line, srv.Logs)
		}
	}
	readUntil(" 315 reader " + channels[rooms-1] + " ")
	io.WriteString(conn, "PING :sync\r\n")
	readUntil("PONG hubbub :sync")
	if strings.Contains(srv.Logs.String(), `reason="slow consumer"`) {
		t.Fatalf("a client that reads its answers was dropped:\n%s", srv.Logs)
	}

	// NAMES alone, with nothing unread: its eleven channels' names share one list's bound, and
	// each channel's 366 says how many of its names were shown.
	io.WriteString(conn, "NAMES\r\n")
	names, cut := 0, 0
	for _, line := range readUntil(" 366 reader #lobby ") {
		if strings.Contains(line, " 353 reader ") {
			names += len(line)
		}
		if strings.Contains(line, " 366 reader ") && strings.HasSuffix(line, " shown, the rest did not fit in this answer\r\n") {
			cut++
		}
	}
	if bound := 4 * 512; names > bound {
		t.Fatalf("NAMES of %d channels answered %d bytes of names, more than one list's %d", rooms+1, names, bound)
	}
	if cut < rooms-1 {
		t.Errorf("NAMES of %d channels: %d of their 366s say that the names were cut for the answer's sake", rooms+1, cut)
	}
}
