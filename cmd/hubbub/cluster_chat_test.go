package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chattest"
)

// chatNode is a hubbub process of a cluster test, with what it takes to start it again.
type chatNode struct {
	name, chat, admin string
	http              string // the page's address, host:port
	natsClient        string // its embedded NATS server's client address, host:port
	args              []string
	dataDir           string
	cmd               *exec.Cmd
	logs              *chattest.Logs
	exited            chan error
}

// startChatCluster starts n hubbub processes with --nats-embedded, routed to each other, and
// waits until each is ready.
func startChatCluster(t *testing.T, n int) []*chatNode {
	t.Helper()
	addrs := freeAddrs(t, 5*n) // per node: chat, admin, NATS client, NATS routes, the page
	var routes []string
	for i := range n {
		routes = append(routes, "nats://"+addrs[5*i+3])
	}
	var nodes []*chatNode
	for i := range n {
		nd := &chatNode{name: string(rune('a' + i)), chat: addrs[5*i], admin: "http://" + addrs[5*i+1],
			http: addrs[5*i+4], natsClient: addrs[5*i+2], dataDir: t.TempDir()}
		nd.args = []string{"--node-name", nd.name, "--chat-addr", nd.chat, "--http-addr", nd.http, "--quote-addr=", "--echo-addr=",
			"--admin-addr", addrs[5*i+1], "--nats-embedded", "--nats-listen", addrs[5*i+2],
			"--nats-cluster-listen", addrs[5*i+3], "--nats-routes", strings.Join(routes, ","),
			"--line-rate", "0", "--register-timeout", "0"}
		nd.start(t)
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		nd.waitReady(t)
	}
	return nodes
}

func (nd *chatNode) start(t *testing.T) {
	t.Helper()
	nd.cmd = exec.Command(binary, nd.args...)
	nd.cmd.Env = append(os.Environ(), "HUBBUB_DATA_DIR="+nd.dataDir)
	nd.logs = &chattest.Logs{}
	nd.cmd.Stderr = nd.logs
	nd.exited = make(chan error, 1)
	if err := nd.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, exited, logs := nd.cmd, nd.exited, nd.logs
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		err := <-exited
		exited <- err
		if t.Failed() {
			t.Logf("node %s logs:\n%s", nd.name, logs)
		}
	})
}

func (nd *chatNode) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, "/readyz of node "+nd.name, func() bool {
		code, err := httpGet(nd.admin + "/readyz")
		return err == nil && code == 200
	})
}

// kill ends the process with SIGKILL: nothing it held is let go.
func (nd *chatNode) kill(t *testing.T) {
	t.Helper()
	nd.cmd.Process.Signal(syscall.SIGKILL)
	err := <-nd.exited
	nd.exited <- err
}

// history returns the lines of room's history a new user on nd reads, as "<name> text": the
// replay on joining the room, and before it what /history adds.
func history(t *testing.T, nd *chatNode, user, room string, n int) []string {
	t.Helper()
	c := chattest.Join(t, nd.chat, user)
	defer c.Conn.Close()
	var all []string
	read := func(what string, last func(string) bool) []string {
		t.Helper()
		var out []string
		for {
			line, err := c.TryReadLine(chattest.Timeout)
			if err != nil {
				t.Fatalf("%s on node %s: %v after %q", what, nd.name, err, all)
			}
			all = append(all, line)
			if last(line) {
				return out
			}
			if i := strings.Index(line, "] <"); strings.HasPrefix(line, "[") && i > 0 {
				out = append(out, line[i+2:])
			}
		}
	}
	// The /who answer comes after the replay that joining shows.
	c.Send("/join " + room)
	c.Send("/who")
	replay := read("joining "+room, func(line string) bool { return strings.HasPrefix(line, "*** "+room+" (") })
	c.Send(fmt.Sprintf("/history %d", n))
	earlier := read("/history", func(line string) bool {
		return strings.HasPrefix(line, "*** end of history") || strings.HasPrefix(line, "*** no earlier history")
	})
	return append(earlier, replay...)
}

// TestProcessClusterChat: three hubbub binaries with --nats-embedded are one chat for nc users
// on each (lines in one order, private messages, /who), and a node killed with SIGKILL in the
// middle of a conversation loses nothing anyone saw: once it is back, every node's history has
// every line any user was shown.
func TestProcessClusterChat(t *testing.T) {
	if testing.Short() {
		t.Skip("three processes forming a JetStream cluster")
	}
	nodes := startChatCluster(t, 3)
	alice := chattest.Join(t, nodes[0].chat, "alice")
	bob := chattest.Join(t, nodes[1].chat, "bob")
	carol := chattest.Join(t, nodes[2].chat, "carol")
	readWithin := func(c *chattest.Client, want string, d time.Duration) []string {
		t.Helper()
		var got []string
		for {
			line, err := c.TryReadLine(d)
			if err != nil {
				t.Fatalf("no %q: %v (after %q)", want, err, got)
			}
			got = append(got, line)
			if strings.Contains(line, want) {
				return got
			}
		}
	}
	readUntil := func(c *chattest.Client, want string) []string {
		t.Helper()
		return readWithin(c, want, chattest.Timeout)
	}
	// One after the other: a node hears of the room's events from when its first member joined
	// it, so a join racing that first one may come before it, and be told only by /who.
	alice.Send("/join go")
	readUntil(alice, "#go")
	bob.Send("/join go")
	readUntil(bob, "you joined #go")
	carol.Send("/join go")
	readUntil(alice, "carol has joined #go")
	readUntil(bob, "carol has joined #go")
	alice.Send("/msg carol psst")
	readUntil(carol, "[PM from alice] psst")
	carol.Send("/who")
	if who := readUntil(carol, "#go (3)"); !strings.Contains(who[len(who)-1], "alice") || !strings.Contains(who[len(who)-1], "bob") {
		t.Errorf("carol's /who: %q", who)
	}

	// Alice's node dies in the middle of what she says; carol and bob go on hearing her up to
	// then, and nothing after.
	const before = 30
	for i := range before {
		alice.Send(fmt.Sprint("line ", i))
	}
	seenByCarol := readUntil(carol, fmt.Sprint("<alice> line ", before-1))
	// Paced, so that the node dies while alice is still talking.
	stopTalking := make(chan struct{})
	t.Cleanup(func() { close(stopTalking) })
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := before; i < before+100; i++ {
			select {
			case <-stopTalking:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(alice.Conn, "line %d\r\n", i); err != nil {
				return // the node is gone
			}
		}
	}()
	seenByCarol = append(seenByCarol, readUntil(carol, "<alice> line 60")...)
	nodes[0].kill(t)
	// What carol was shown of alice until the quit (the names of a killed node are freed when
	// their claims expire, 30 seconds at most, and the other nodes then say alice left).
	seenByCarol = append(seenByCarol, readWithin(carol, "alice has left", 60*time.Second)...)
	var said []string
	for _, line := range seenByCarol {
		if strings.HasPrefix(line, "<alice> line ") {
			said = append(said, strings.TrimPrefix(line, "<"))
		}
	}
	for i, line := range said {
		if want := fmt.Sprint("alice> line ", i); line != want {
			t.Fatalf("carol heard %q as alice's line %d, want %q", line, i, want)
		}
	}

	nodes[0].start(t)
	nodes[0].waitReady(t)
	for i, nd := range nodes {
		waitFor(t, fmt.Sprintf("node %d's history to have what carol heard", i), func() bool {
			got := history(t, nd, fmt.Sprintf("reader%d_%d", i, time.Now().UnixNano()%1000), "#go", 500)
			var lines []string
			for _, l := range got {
				if strings.HasPrefix(l, "<alice> line ") {
					lines = append(lines, strings.TrimPrefix(l, "<"))
				}
			}
			ok := len(lines) >= len(said) && slices.Equal(lines[:len(said)], said)
			if !ok {
				var missing []string
				for _, l := range said {
					if !slices.Contains(lines, l) {
						missing = append(missing, l)
					}
				}
				t.Logf("node %d's history misses %q", i, missing)
				t.Logf("node %d's history has %d of alice's lines, carol heard %d: last %q, heard last %q", i, len(lines), len(said), lines[max(len(lines)-3, 0):], said[len(said)-3:])
			}
			return ok
		})
	}
}

// TestProcessClusterPage: the web page of one node and nc on another are in one chat: joins,
// lines both ways (hostile text shown as text), a private message, the list of who is here.
func TestProcessClusterPage(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes forming a JetStream cluster, and a browser")
	}
	ctx := chromium(t)
	nodes := startChatCluster(t, 2)
	termy := chattest.Join(t, nodes[0].chat, "termy")
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+nodes[1].http+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		typeInto("#name", "webby\n"),
		waitText("#status", "connected as webby"),
	)
	if err != nil {
		t.Fatalf("register on node b's page: %v", err)
	}
	termy.Expect("webby has joined the channel")
	hostile := "<img src=x onerror=\"window.pwned=1\"> from node a"
	termy.Send(hostile)
	err = chromedp.Do(ctx,
		waitText("#log", hostile),
		typeInto("#say", "hi from node b\n"),
		typeInto("#say", "/msg termy psst\n"),
		waitText("#members", "termy"), // the page's list of who is here holds the other node's member
	)
	if err != nil {
		t.Fatalf("chat across nodes: %v", err)
	}
	termy.Expect("<webby> hi from node b", "[PM from webby] psst")
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned === 1 || document.querySelectorAll("#log img").length > 0`))
	if err != nil {
		t.Fatal(err)
	}
	if pwned {
		t.Error("hostile text from another node became markup on the page")
	}
}

// TestAccountCommandsOnCluster: `hubbub account --nats URL` manages the cluster's accounts, not
// a node's file: an account it creates logs in on every node, and one it deletes is gone
// everywhere.
func TestAccountCommandsOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes forming a JetStream cluster")
	}
	nodes := startChatCluster(t, 2)
	natsURL := "nats://" + nodes[1].natsClient
	mustAccount(t, "a good password\n", "create", "Carol", "--nats", natsURL)
	mustAccount(t, "", "oper", "carol", "--nats", natsURL)
	r := mustAccount(t, "", "list", "--nats", natsURL)
	if !strings.Contains(r.stdout, "Carol") {
		t.Errorf("list on the cluster: %q", r.stdout)
	}
	for _, nd := range nodes {
		c := chattest.Dial(t, nd.chat)
		c.Expect("What's your name?")
		c.Send("carol")
		c.Expect("\xff\xfb\x01*** password for Carol:") // IAC WILL ECHO: the password is not shown
		c.Send("a good password")
		if line := c.ReadLine(); !strings.HasSuffix(line, "Welcome, Carol!") {
			t.Errorf("node %s, after the password: %q", nd.name, line)
		}
		c.Send("/quit")
		c.ExpectClosed()
	}
	mustAccount(t, "", "delete", "Carol", "--nats", natsURL)
	c := chattest.Join(t, nodes[0].chat, "carol") // a guest name again
	c.Send("/quit")
}
