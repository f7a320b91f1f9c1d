package loadgen_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/loadgen"
	"hubbub/internal/sqlite"
)

// TestSenderThatNeverConnectedLosesNothing holds the name of one sender, so that it cannot
// register: the others' lines are all delivered, nothing is lost, and the run fails only for
// the error, unless --max-errors allows one.
func TestSenderThatNeverConnectedLosesNothing(t *testing.T) {
	addr := chatServerWithHistory(t)
	for _, maxErrors := range []int64{0, 1} {
		// Each run's names are its own: the users of the run before may still be leaving.
		runID := fmt.Sprint("gone", maxErrors)
		chattest.Join(t, addr, "b"+runID+"-0") // sender 0's name
		o := opts(addr)
		o.MaxErrors = maxErrors
		r, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 4, Senders: 2, Msgs: 20, RunID: runID}), o, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Sender 1 reaches the other 2 registered users; sender 0 sent nothing.
		want := map[string]int64{"conns_attempted": 4, "registered": 3, "lines_attempted": 40, "lines_sent": 20,
			"expected": 40, "deliveries": 40, "lost": 0, "reordered": 0}
		for k, v := range want {
			if r.Counts[k] != v {
				t.Errorf("max errors %d: %s = %d, want %d (counts %v)", maxErrors, k, r.Counts[k], v, r.Counts)
			}
		}
		if r.Errors["server said: name taken, please choose other"] != 1 {
			t.Errorf("errors %v, want the one name taken", r.Errors)
		}
		if testing.Verbose() {
			t.Logf("errors %v", r.Errors)
		}
		if failed := maxErrors == 0; r.Failed() != failed || (failed && !strings.Contains(strings.Join(r.Failures, ";"), "1 errors")) {
			t.Errorf("max errors %d: failures %q, want failed=%v", maxErrors, r.Failures, failed)
		}
	}
}

// chatServerWithHistory starts a chat that keeps history in an SQLite file, as hubbub does
// by default. (Without history, a line said just as someone registers can miss them: the
// welcome may reach them before they are in the lobby.)
func chatServerWithHistory(t *testing.T) string {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.DefaultConfig(filepath.Join(t.TempDir(), "hubbub.db")), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() }) // after the server's shutdown, which is registered later
	cfg := chat.DefaultConfig()
	cfg.History, cfg.Bans = store, store
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, cfg, nil)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	return srv.Addr
}

// TestRefusalIsReported runs users whose names the server refuses with a notice: each is
// counted as an error in the server's words, at once rather than at the timeout.
func TestRefusalIsReported(t *testing.T) {
	addr := chatServer(t)
	o := opts(addr)
	o.Timeout = chattest.Timeout
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 3, Hold: time.Millisecond, RunID: "no space"}), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var refused int64
	for k, n := range r.Errors {
		if strings.HasPrefix(k, "server said: *** ") {
			refused += n
		}
	}
	if refused != 3 || r.Counts["registered"] != 0 || !r.Failed() {
		t.Errorf("errors %v, registered %d, failures %q: want 3 refusals in the server's words and a failed run",
			r.Errors, r.Counts["registered"], r.Failures)
	}
}

// TestTableColumns writes the table of a conns run with the server sampled: every figure
// starts in one column, and no label names a unit other than the one its figure shows.
func TestTableColumns(t *testing.T) {
	addr := chatServer(t)
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 5, Hold: time.Millisecond, RunID: "tab"}), opts(addr), []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.WriteTable(&b)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	column := -1
	seen := map[string]bool{}
	for _, line := range lines[1:] {
		label, _, _ := strings.Cut(strings.TrimPrefix(line, "  "), " ")
		if strings.HasSuffix(label, "_bytes") || strings.HasSuffix(label, "_seconds") {
			t.Errorf("label %q names a unit: %q", label, line)
		}
		seen[label] = true
		if label == "server" || label == "delivery" || label == "register" { // labels of two words
			continue
		}
		col := len(line) - len(strings.TrimLeft(line[2+len(label):], " "))
		if column == -1 {
			column = col
		}
		if col != column || line[col-2:col] != "  " {
			t.Errorf("figure of %q starts at %d, want %d after two spaces:\n%s", label, col, column, b.String())
		}
	}
	for _, want := range []string{"server_rss_per_conn", "register_time", "registered", "result"} {
		if !seen[want] {
			t.Errorf("no row %q:\n%s", want, b.String())
		}
	}
}

// TestRoomRefused asks for a room the server will not make: the run stops before anyone
// registers, in the server's words.
func TestRoomRefused(t *testing.T) {
	addr := chatServer(t)
	o := opts(addr)
	o.Room = "#-x"
	_, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 3, Senders: 1, Msgs: 5, RunID: "rr"}), o, nil)
	if err == nil || !strings.Contains(err.Error(), "room #-x: server said: *** room names") {
		t.Fatalf("err = %v, want the server's refusal of the room", err)
	}
}
