package main

import (
	"slices"
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// clusterLogIn logs in to the account name on the chat at addr, with pw.
func clusterLogIn(t *testing.T, addr, name, pw string) *chattest.Client {
	t.Helper()
	c := chattest.Dial(t, addr)
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect(willEcho + "*** password for " + name + ":")
	c.Send(pw)
	if line := c.ReadLine(); !strings.HasSuffix(line, "Welcome, "+name+"!") {
		t.Fatalf("%s logging in: %q", name, line)
	}
	return c
}

// readTo reads c's lines until one contains want.
func readTo(t *testing.T, c *chattest.Client, want string, orElse ...string) []string {
	t.Helper()
	var got []string
	for {
		line, err := c.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("no %q: %v (after %q)", want, err, got)
		}
		got = append(got, line)
		if strings.Contains(line, want) || slices.ContainsFunc(orElse, func(s string) bool { return strings.Contains(line, s) }) {
			return got
		}
	}
}

// TestDeletedAccountsPrivateHistoryOnCluster: carol, on node b, and alice, on node a, write to
// each other; carol's account is deleted (`hubbub account delete`) and someone registers carol
// again: on neither node can the new carol read the old one's private lines with /history.
func TestDeletedAccountsPrivateHistoryOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes forming a JetStream cluster")
	}
	nodes := startChatCluster(t, 2)
	natsURL := "nats://" + nodes[0].natsClient
	mustAccount(t, "alice's long password\n", "create", "alice", "--nats", natsURL)
	mustAccount(t, "carol's long password\n", "create", "carol", "--nats", natsURL)
	alice := clusterLogIn(t, nodes[0].chat, "alice", "alice's long password")
	carol := clusterLogIn(t, nodes[1].chat, "carol", "carol's long password")
	// Node a knows carol is logged in once her presence reached it (her name is claimed
	// first): until then she looks like a guest, and a message to a guest is kept nowhere.
	for _, c := range []struct {
		who  *chattest.Client
		name string
	}{{alice, "carol"}, {carol, "alice"}} {
		waitFor(t, "the other node to know "+c.name+"'s account", func() bool {
			c.who.Send("/whois " + c.name)
			// Not known there yet: "no one called NAME is online", and asked again.
			got := readTo(t, c.who, c.name+": in", "no one called "+c.name)
			return strings.Contains(got[len(got)-1], "logged in as "+c.name)
		})
	}
	alice.Send("/msg carol the vault code is 4711")
	readTo(t, carol, "[PM from alice] the vault code is 4711")
	carol.Send("/reply thanks")
	readTo(t, alice, "[PM from carol] thanks")
	carol.Send("/quit")
	carol.ExpectClosed()
	// Both lines are in both nodes' histories before the account goes (an account's devices
	// are on one node: the old carol's name must be free on the other first).
	for _, nd := range nodes {
		waitFor(t, "node "+nd.name+" to keep the conversation", func() bool {
			got := privateHistory(t, nd.chat, "carol", "carol's long password", "alice")
			return strings.Contains(got, "the vault code is 4711") && strings.Contains(got, "[PM to alice] thanks")
		})
	}

	mustAccount(t, "", "delete", "carol", "--nats", natsURL)
	mustAccount(t, "mallory's long password\n", "create", "carol", "--nats", natsURL)
	for _, nd := range nodes {
		var got string
		waitFor(t, "the new carol to log in on node "+nd.name, func() bool {
			got = privateHistory(t, nd.chat, "carol", "mallory's long password", "alice")
			return got != ""
		})
		if !strings.HasSuffix(got, "*** no earlier history") || strings.Contains(got, "4711") {
			t.Errorf("the new carol on node %s reads the old one's private history: %q", nd.name, got)
		}
	}
}

// privateHistory logs in to the account name with pw on the chat at addr and returns what
// /history with returns, up to its last line; "" when the login is refused (the account is
// still connected through another node).
func privateHistory(t *testing.T, addr, name, pw, with string) string {
	t.Helper()
	c := chattest.Dial(t, addr)
	defer c.Conn.Close()
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect(willEcho + "*** password for " + name + ":")
	c.Send(pw)
	if line := c.ReadLine(); !strings.HasSuffix(line, "Welcome, "+name+"!") {
		return ""
	}
	c.Send("/history " + with)
	var got []string
	for {
		line, err := c.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("/history %s: %v (after %q)", with, err, got)
		}
		got = append(got, line)
		if strings.HasPrefix(line, "*** end of history") || strings.HasPrefix(line, "*** no earlier history") {
			return strings.Join(got, "\n")
		}
	}
}
