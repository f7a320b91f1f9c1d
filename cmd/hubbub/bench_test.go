package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// benchResult is what `hubbub bench --json` prints, as far as the tests read it.
type benchResult struct {
	Addrs    int
	Server   *struct{ PIDs []int }
	Room     string
	Counts   map[string]int64
	Errors   map[string]int64
	Failures []string
}

// runBench runs `hubbub bench args... --json` and returns its exit code, result and stderr.
func runBench(t *testing.T, args ...string) (int, benchResult, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append(append([]string{"bench"}, args...), "--json", "--timeout", "30s"), &stdout, &stderr)
	var r benchResult
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("bench %v: %v in %q", args, err, stdout.String())
		}
	}
	return code, r, stderr.String()
}

// freeAddr returns an address on which nothing listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestBenchFailsWithoutServer runs every scenario where no server listens: each exits 1,
// says why, and counts what it attempted apart from what it did.
func TestBenchFailsWithoutServer(t *testing.T) {
	addr := freeAddr(t)
	tests := []struct {
		args []string
		want map[string]int64
		why  string
	}{
		{[]string{"fanout", "--users", "50", "--senders", "10", "--msgs", "20"},
			map[string]int64{"conns_attempted": 50, "registered": 0, "lines_attempted": 200, "lines_sent": 0,
				"expected": 0, "deliveries": 0, "lost": 0}, "no line was sent"},
		{[]string{"conns", "--conns", "20", "--hold", "1ms"},
			map[string]int64{"conns_attempted": 20, "registered": 0}, "no connection registered"},
		{[]string{"quote", "--conns", "10", "--in-flight", "5"},
			map[string]int64{"quotes_attempted": 10, "quotes_sent": 0, "answers": 0, "never_handed_out": 0}, "no quote was answered"},
		{[]string{"echo", "--conns", "5", "--duration", "10ms"},
			map[string]int64{"conns_attempted": 5, "conns": 0, "round_trips": 0}, "no round trip"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			code, r, stderr := runBench(t, append(tt.args, "--addr", addr)...)
			if code != 1 {
				t.Errorf("exit %d, want 1 (stderr %q)", code, stderr)
			}
			for k, v := range tt.want {
				if got, ok := r.Counts[k]; !ok || got != v {
					t.Errorf("%s = %d (present %v), want %d", k, got, ok, v)
				}
			}
			if r.Errors["connection refused"] == 0 {
				t.Errorf("errors %v, want refused connections", r.Errors)
			}
			if !strings.Contains(stderr, "the run failed: "+tt.why) || !strings.Contains(stderr, "more than --max-errors 0") {
				t.Errorf("stderr %q, want it to say the run failed: %s, and the errors", stderr, tt.why)
			}
		})
	}
}

// TestBenchSucceedsAgainstServer runs every scenario against a real hubbub: each exits 0.
func TestBenchSucceedsAgainstServer(t *testing.T) {
	p := startProc(t, "", "--line-rate", "0")
	tests := [][]string{
		{"fanout", "--addr", p.addrs["chat"], "--users", "6", "--senders", "2", "--msgs", "20"},
		{"conns", "--addr", p.addrs["chat"], "--conns", "10", "--hold", "1ms"},
		{"quote", "--addr", p.addrs["quote"], "--conns", "50", "--in-flight", "10"},
		{"echo", "--addr", p.addrs["echo"], "--conns", "2", "--duration", "50ms"},
	}
	for _, args := range tests {
		t.Run(args[0], func(t *testing.T) {
			code, r, stderr := runBench(t, args...)
			if code != 0 || len(r.Failures) > 0 || len(r.Errors) > 0 {
				t.Errorf("exit %d, failures %q, errors %v, stderr %q", code, r.Failures, r.Errors, stderr)
			}
		})
	}
}

// TestBenchRoomKeepsLobbyHistoryClean runs a fan-out with --room against a server that keeps
// history: the lobby's history (what a newcomer is replayed and what /history pages back
// through) holds no line of the run, while the room's holds them all.
func TestBenchRoomKeepsLobbyHistoryClean(t *testing.T) {
	p := startProc(t, "", "--line-rate", "0")
	chat := p.addrs["chat"]
	alice := chattest.Join(t, chat, "alice")
	alice.Send("before the bench")

	code, r, stderr := runBench(t, "fanout", "--addr", chat, "--users", "5", "--senders", "2", "--msgs", "15", "--room", "#bench")
	if code != 0 || r.Room != "#bench" || r.Counts["deliveries"] != 2*15*4 {
		t.Fatalf("exit %d, room %q, counts %v, errors %v, stderr %q", code, r.Room, r.Counts, r.Errors, stderr)
	}

	bob := chattest.Join(t, chat, "bob")
	lobby := readUntil(t, bob, "*** end of history")
	bob.Send("/history 200")
	lobby = append(lobby, readUntil(t, bob, "*** no earlier history")...)
	if !slices.ContainsFunc(lobby, func(l string) bool { return strings.HasSuffix(l, "<alice> before the bench") }) {
		t.Errorf("the lobby's history lost alice's line: %q", lobby)
	}
	for _, l := range lobby {
		if strings.Contains(l, "> m ") {
			t.Errorf("the lobby's history has a line of the bench: %q", l)
		}
	}
	// The room is gone with its last member; its history stays.
	bob.Send("/join #bench")
	inRoom := readUntil(t, bob, "*** you made #bench and own it: plain lines now go there") // its replay
	bob.Send("/history 200")
	inRoom = append(inRoom, readUntil(t, bob, "*** end of history: nothing earlier")...)
	if n := len(slices.DeleteFunc(inRoom, func(l string) bool { return !strings.Contains(l, "> m ") })); n != 2*15 {
		t.Errorf("#bench's history has %d lines of the bench, want all 30: %q", n, inRoom)
	}
}

// readUntil reads c's lines up to and including the line last, and returns them.
func readUntil(t *testing.T, c *chattest.Client, last string) []string {
	t.Helper()
	var lines []string
	for {
		line, err := c.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("no %q (%v) after %q", last, err, lines)
		}
		lines = append(lines, line)
		if line == last {
			return lines
		}
	}
}

// TestBenchUsage: without a scenario, bench says what to run and how to learn the flags; a
// scenario's help writes its flags as --name, as the rest of hubbub does, without the ones
// only bench itself uses.
func TestBenchUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench"}, &stdout, &stderr); code != 2 {
		t.Errorf("hubbub bench: exit %d, want 2", code)
	}
	usage := stderr.String()
	if strings.HasSuffix(strings.TrimSpace(usage), ":") || !strings.Contains(usage, "hubbub bench SCENARIO --help") {
		t.Errorf("hubbub bench says %q: want it to end in how to list a scenario's flags", usage)
	}
	for _, scenario := range []string{"fanout", "conns", "quote", "echo"} {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"bench", scenario, "--help"}, &stdout, &stderr); code != 0 {
			t.Errorf("%s --help: exit %d, want 0", scenario, code)
		}
		help := stdout.String()
		if !strings.Contains(help, "\n  --addr address\n") || !strings.Contains(help, "\n  --max-errors N\n") {
			t.Errorf("%s --help does not list --addr and --max-errors:\n%s", scenario, help)
		}
		for line := range strings.Lines(help) {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") {
				t.Errorf("%s --help writes a flag with one dash: %q", scenario, line)
			}
		}
		if strings.Contains(help, "--worker") || strings.Contains(help, "--run-id") {
			t.Errorf("%s --help lists bench's own flags:\n%s", scenario, help)
		}
	}
}

// TestBenchOverCluster runs the fan-out over two hubbub processes that are one chat on NATS
// JetStream, with --addr naming both: users and senders spread over the nodes, and each user
// has every line of every other sender, whichever node it is on, in one room or in rooms of 3.
// --pid names both processes.
func TestBenchOverCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("two processes forming a JetStream cluster")
	}
	nodes := startChatCluster(t, 2)
	addrs := nodes[0].chat + "," + nodes[1].chat
	pids := fmt.Sprintf("%d,%d", nodes[0].cmd.Process.Pid, nodes[1].cmd.Process.Pid)
	tests := []struct {
		args []string
		want map[string]int64
	}{
		// Senders 0 and 1 are on different nodes; each reaches the 5 others.
		{[]string{"--users", "6", "--senders", "2", "--msgs", "20", "--room", "bench"},
			map[string]int64{"registered": 6, "deliveries": 2 * 20 * 5, "lost": 0, "reordered": 0}},
		// Rooms of 3 across the nodes: each room's sender reaches its 2 others.
		{[]string{"--users", "6", "--senders", "1", "--msgs", "20", "--room-size", "3", "--room", "rooms"},
			map[string]int64{"registered": 6, "rooms": 2, "deliveries": 2 * 20 * 2, "lost": 0, "reordered": 0}},
	}
	for _, tt := range tests {
		code, r, stderr := runBench(t, append([]string{"fanout", "--addr", addrs, "--pid", pids}, tt.args...)...)
		if code != 0 || len(r.Errors) > 0 {
			t.Errorf("%v: exit %d, failures %q, errors %v, stderr %q", tt.args, code, r.Failures, r.Errors, stderr)
		}
		for k, v := range tt.want {
			if r.Counts[k] != v {
				t.Errorf("%v: %s = %d, want %d", tt.args, k, r.Counts[k], v)
			}
		}
		if r.Addrs != 2 || r.Server == nil || len(r.Server.PIDs) != 2 {
			t.Errorf("%v: the result says %d addresses, server %+v: want 2 of each", tt.args, r.Addrs, r.Server)
		}
	}
}

// TestBenchBadLists: a --pid or --addr list with a bad or empty element is refused, saying what
// it takes, before any connection.
func TestBenchBadLists(t *testing.T) {
	addr := freeAddr(t)
	tests := []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"conns", "--addr", addr, "--pid", "1,x"}, 2, "--pid takes process ids separated by commas"},
		{[]string{"conns", "--addr", addr + ",," + addr}, 1, "empty address in"},
		{[]string{"fanout", "--addr", addr, "--room-size", "-1"}, 2, "--room-size takes a number"},
		{[]string{"fanout", "--addr", addr, "--room-size", "3", "--senders", "4"}, 1, "--senders <= --room-size"},
	}
	for _, tt := range tests {
		code, _, stderr := runBench(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.say) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tt.args, code, stderr, tt.code, tt.say)
		}
	}
}
