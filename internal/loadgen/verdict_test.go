package loadgen_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/loadgen"
)

// TestSenderThatNeverConnectedLosesNothing holds the name of one sender, so that it cannot
// register: the others' lines are all delivered, nothing is lost, and the run fails only for
// the error, unless --max-errors allows one.
func TestSenderThatNeverConnectedLosesNothing(t *testing.T) {
	addr := chatServer(t)
	for _, maxErrors := range []int64{0, 1} {
		// Each run's names are its own: the users of the run before may still be leaving.
		runID := fmt.Sprint("gone", maxErrors)
		chattest.Join(t, addr, "b"+runID+"-0") // sender 0's name
		o := opts(addr)
		o.MaxErrors = maxErrors
		r, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 4, Senders: 2, Msgs: 20, RunID: runID}), o, 0)
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

// TestRefusalIsReported runs users whose names the server refuses with a notice: each is
// counted as an error in the server's words, at once rather than at the timeout.
func TestRefusalIsReported(t *testing.T) {
	addr := chatServer(t)
	o := opts(addr)
	o.Timeout = chattest.Timeout
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 3, Hold: time.Millisecond, RunID: "no space"}), o, 0)
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
