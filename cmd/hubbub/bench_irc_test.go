package main

import (
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// TestBenchIRC runs `hubbub bench fanout --irc` and `conns --irc` against hubbub's IRC door:
// every line of every sender reaches every other user, in one channel and in channels of a
// given size, with nothing lost or reordered.
func TestBenchIRC(t *testing.T) {
	_, addrs := startMain(t, nil)
	irc := addrs["irc"]
	tests := []struct {
		name       string
		args       []string
		deliveries int64
	}{
		{"lobby", []string{"fanout", "--users", "6", "--senders", "2", "--msgs", "20"}, 2 * 20 * 5},
		// A client's JOIN of a channel it is in is answered with nothing: the run goes on.
		{"lobby by name", []string{"fanout", "--users", "4", "--senders", "1", "--msgs", "10", "--room", "lobby"}, 10 * 3},
		{"room", []string{"fanout", "--users", "5", "--senders", "2", "--msgs", "15", "--room", "bench"}, 2 * 15 * 4},
		// Two channels of 3: each sender is heard by the 2 others of its channel alone.
		{"rooms", []string{"fanout", "--users", "6", "--senders", "2", "--msgs", "10", "--room-size", "3"}, 2 * 2 * 10 * 2},
		{"conns", []string{"conns", "--conns", "10", "--hold", "1ms"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, r, stderr := runBench(t, append(tt.args, "--irc", "--addr", irc)...)
			if code != 0 || len(r.Failures) > 0 || len(r.Errors) > 0 {
				t.Fatalf("exit %d, failures %q, errors %v, stderr %q", code, r.Failures, r.Errors, stderr)
			}
			if got := r.Counts["deliveries"]; got != tt.deliveries || r.Counts["lost"] != 0 || r.Counts["reordered"] != 0 {
				t.Errorf("counts %v, want %d deliveries, none lost or reordered", r.Counts, tt.deliveries)
			}
		})
	}
}

// TestBenchIRCAnswersPings holds IRC users past the server's ping interval, receivers that
// only read: they answer the server's PINGs, so none is dropped and no line is lost.
func TestBenchIRCAnswersPings(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) { c.Line.PingInterval = 100 * time.Millisecond })
	// 20 lines a second for 1.5 s: several ping intervals and their timeouts go by.
	code, r, stderr := runBench(t, "fanout", "--irc", "--addr", addrs["irc"], "--users", "4", "--senders", "1",
		"--msgs", "30", "--rate", "20")
	if code != 0 || len(r.Errors) > 0 || r.Counts["deliveries"] != 30*3 {
		t.Fatalf("exit %d, counts %v, errors %v, stderr %q", code, r.Counts, r.Errors, stderr)
	}
}

// TestBenchIRCRefusals: a nick held by a telnet user is a 433 for the IRC user who asks for it,
// which the run counts as what the server said; a server that is not there is refused
// connections; --irc and --ws do not go together.
func TestBenchIRCRefusals(t *testing.T) {
	_, addrs := startMain(t, nil)
	chattest.Join(t, addrs["chat"], "bdead-1")
	code, r, stderr := runBench(t, "fanout", "--irc", "--addr", addrs["irc"], "--run-id", "dead", "--users", "3",
		"--senders", "1", "--msgs", "5", "--max-errors", "1")
	refused := 0
	for k, n := range r.Errors {
		if strings.HasPrefix(k, "server said: ") && strings.Contains(k, " 433 ") {
			refused += int(n)
		}
	}
	if code != 0 || refused != 1 || r.Counts["registered"] != 2 || r.Counts["deliveries"] != 5 {
		t.Errorf("exit %d, errors %v, counts %v, stderr %q; want one 433 and 2 users registered", code, r.Errors, r.Counts, stderr)
	}

	code, r, stderr = runBench(t, "fanout", "--irc", "--addr", freeAddr(t), "--users", "3", "--senders", "1", "--msgs", "5")
	if code != 1 || r.Errors["connection refused"] != 3 {
		t.Errorf("no server: exit %d, errors %v, stderr %q", code, r.Errors, stderr)
	}
	code, _, stderr = runBench(t, "fanout", "--irc", "--room", "a,b")
	if code != 2 || !strings.Contains(stderr, "--room takes one channel, without a comma") {
		t.Errorf("--irc --room a,b: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runBench(t, "fanout", "--irc", "--ws")
	if code != 2 || !strings.Contains(stderr, "--ws or --irc, not both") {
		t.Errorf("--irc --ws: exit %d, stderr %q", code, stderr)
	}
}
