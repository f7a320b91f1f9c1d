package loadgen_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"hubbub/internal/loadgen"
)

// startSeed runs one of the original Twisted servers from ../shared/seed on a free port.
func startSeed(t *testing.T, file string) string {
	t.Helper()
	seed, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "seed", file))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(seed); err != nil {
		t.Skipf("the original servers are not beside the project: %v", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import twisted").Run(); err != nil {
		t.Fatalf("python3-twisted is not installed (apt-get install -y python3-twisted; .ci/run does): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("/usr/bin/python3", seed, strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start listening on %s", file, addr)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// TestAgainstTheOriginals runs every scenario, small, against the Twisted servers it is
// compared with.
func TestAgainstTheOriginals(t *testing.T) {
	chat := startSeed(t, "chat_twisted_bytesfix.py")
	r, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 5, Senders: 2, Msgs: 30, RunID: "tw"}), opts(chat), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 5, "deliveries": 2 * 30 * 4, "lost": 0, "reordered": 0})

	// The original has no rooms: --room finds that out and the run goes on in its one channel.
	o := opts(chat)
	o.Room = "bench"
	r, err = loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 3, Senders: 1, Msgs: 10, RunID: "twr"}), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 3, "deliveries": 20, "lost": 0})
	if r.Room != "-" || r.Failed() {
		t.Errorf("room %q, failures %q: want no room and a run that succeeded", r.Room, r.Failures)
	}

	r, err = loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 20, Hold: time.Millisecond, RunID: "tw"}), opts(chat), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 20})

	quote := startSeed(t, "quote_twisted.py")
	r, err = loadgen.Run(t.Context(), loadgen.Quote(loadgen.QuoteConfig{Conns: 200, InFlight: 20, RunID: "tw"}), opts(quote), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"answers": 200})

	echo := startSeed(t, "echo_twisted.py")
	r, err = loadgen.Run(t.Context(), loadgen.Echo(loadgen.EchoConfig{Conns: 3, Bytes: 64, Duration: 100 * time.Millisecond}), opts(echo), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["round_trips"] == 0 {
		t.Error("no round trips with the original echo server")
	}
}
