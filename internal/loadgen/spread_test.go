package loadgen_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/loadgen"
	"hubbub/internal/wsgateway"
)

// wsChat starts a chat with a line listener and a WebSocket gateway on the same hub, and
// returns their addresses.
func wsChat(t *testing.T) (lineAddr, wsAddr string) {
	t.Helper()
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	wsCfg := wsgateway.DefaultConfig()
	wsCfg.LineRate = 0
	ws := wsgateway.NewServer(wsCfg, srv.Hub, nil, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		ws.Shutdown(ctx)
		hs.Close()
	})
	return srv.Addr, strings.TrimPrefix(hs.URL, "http://")
}

var joinedLine = regexp.MustCompile(`^(b\S+) has joined the channel$`)

// joinsSeen reads w's lines until it has seen the join of every name in want, and returns
// every bench user whose join it saw.
func joinsSeen(t *testing.T, w *chattest.Client, want []string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	missing := func() bool {
		for _, n := range want {
			if !seen[n] {
				return true
			}
		}
		return false
	}
	for missing() {
		line, err := w.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("saw the joins of %v, want %v: %v", seen, want, err)
		}
		if m := joinedLine.FindStringSubmatch(line); m != nil {
			seen[m[1]] = true
		}
	}
	return seen
}

// TestSpreadOverAddrs runs the connections scenario against two separate chat servers given
// as one --addr list: user i goes to address i mod 2, over TCP lines and over WebSocket alike,
// as a watcher on each server sees from the joins. The report counts the addresses.
func TestSpreadOverAddrs(t *testing.T) {
	for _, tt := range []struct {
		name string
		ws   bool
	}{{"tcp", false}, {"ws", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var lineAddrs, targets []string
			for range 2 {
				if tt.ws {
					l, w := wsChat(t)
					lineAddrs, targets = append(lineAddrs, l), append(targets, w)
				} else {
					l := chatServer(t)
					lineAddrs, targets = append(lineAddrs, l), append(targets, l)
				}
			}
			watchers := []*chattest.Client{chattest.Join(t, lineAddrs[0], "watcher"), chattest.Join(t, lineAddrs[1], "watcher")}
			o := opts(targets[0] + ", " + targets[1])
			o.WS = tt.ws
			runID := "s" + tt.name
			r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 8, Hold: time.Millisecond, RunID: runID}), o, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkCounts(t, r, map[string]int64{"registered": 8})
			if r.Addrs != 2 {
				t.Errorf("the result says %d addresses, want 2", r.Addrs)
			}
			for k, w := range watchers {
				var want []string
				for i := k; i < 8; i += 2 {
					want = append(want, fmt.Sprintf("b%s-%d", runID, i))
				}
				seen := joinsSeen(t, w, want)
				if len(seen) != len(want) {
					t.Errorf("server %d saw the users %v join, want only %v", k, seen, want)
				}
			}
		})
	}
}

// TestFanoutInRooms runs the fan-out in rooms of 3: each room's sender reaches the two others
// of its room and no one else, and the users are out of the lobby while the lines go round.
func TestFanoutInRooms(t *testing.T) {
	addr := chatServer(t)
	inRoom0 := chattest.Join(t, addr, "watcher")
	inRoom0.Send("/join bench-0")
	inRoom0.Expect("*** you made #bench-0 and own it: plain lines now go there")
	inRoom0.Send("/part #lobby")
	inRoom0.Expect("*** you left #lobby")
	lobby := chattest.Join(t, addr, "lobbyist")

	o := opts(addr)
	o.Room, o.RoomSize = "bench", 3
	var asked sync.Once
	o.Progress = func(phase string, _, _ int64) {
		if phase == "fanout" { // everyone is registered and in their room
			asked.Do(func() { io.WriteString(lobby.Conn, "/who\r\n") })
		}
	}
	cfg := loadgen.FanoutConfig{Users: 7, Senders: 1, Msgs: 20, RunID: "r"}
	r, err := loadgen.Run(t.Context(), loadgen.Fanout(cfg), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rooms of 3, 3 and 1: the last room's sender has no one to reach.
	checkCounts(t, r, map[string]int64{"registered": 7, "rooms": 3, "lines_sent": 3 * 20,
		"deliveries": 2 * 20 * 2, "expected": 80, "lost": 0, "reordered": 0})

	// The watcher in #bench-0 had the 20 lines of its sender, br-0, and none of #bench-1's br-3.
	got := 0
	for got < 20 {
		line := inRoom0.ReadLine()
		if strings.HasPrefix(line, "<br-3>") || strings.Contains(line, "br-3 has joined") {
			t.Fatalf("#bench-0 heard %q of #bench-1", line)
		}
		if strings.HasPrefix(line, "<br-0> m r ") {
			got++
		}
	}
	// While the lines went round, the lobby held no bench user.
	for {
		line := lobby.ReadLine()
		if strings.HasPrefix(line, "*** #lobby (") {
			if strings.Contains(line, "br-") {
				t.Errorf("bench users stayed in the lobby: %q", line)
			}
			break
		}
	}
}
