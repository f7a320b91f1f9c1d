package main

import (
	"strconv"
	"testing"

	"hubbub/internal/chattest"
)

// talkInLargeRoom: a real IRC client enters #lobby when it is large (more than
// --announce-limit, here 2), so it is sent 50 names of 56 and no JOIN or QUIT of the crowd; it
// still shows the line of a member its names never listed, and the crowd sees its line.
func talkInLargeRoom(t *testing.T, nick string, start func(ircAddr string) ircClient) {
	t.Helper()
	_, addrs := startMain(t, func(c *Config) { c.Chat.AnnounceLimit = 2 })
	var crowd []*chattest.Client
	for i := range 55 {
		crowd = append(crowd, chattest.Join(t, addrs["chat"], "crowd"+strconv.Itoa(i)))
	}
	irc := start(addrs["irc"])
	irc.join("#lobby") // in it already: the client is only told which channel to talk in
	// Comings and goings it is not told of, then a line from one it was never listed.
	chattest.Join(t, addrs["chat"], "latecomer")
	crowd[3].Send("/quit")
	crowd[3].ExpectClosed()
	crowd[54].Send("hello from the back")
	irc.seesLine("crowd54", "hello from the back")
	irc.say("hello crowd from " + nick)
	readUntil(t, crowd[0], "<"+nick+"> hello crowd from "+nick)
	irc.quit("bye")
}

// TestRealClientsInLargeRoom: ii, irssi and WeeChat in a large channel.
func TestRealClientsInLargeRoom(t *testing.T) {
	t.Run("ii", func(t *testing.T) {
		needClient(t, "ii", "ii")
		talkInLargeRoom(t, "iris", func(addr string) ircClient { return startII(t, addr, "iris") })
	})
	t.Run("irssi", func(t *testing.T) {
		needClient(t, "irssi", "irssi")
		talkInLargeRoom(t, "irene", func(addr string) ircClient { return startIrssi(t, addr, "irene") })
	})
	t.Run("weechat", func(t *testing.T) {
		needClient(t, "weechat-headless", "weechat-headless")
		talkInLargeRoom(t, "wendy", func(addr string) ircClient { return startWeeChat(t, addr, "wendy") })
	})
}
