package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chattest"
)

// binary is the hubbub built once for the tests that run it as a separate process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hubbub-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hubbub")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hubbub:", err)
		os.Exit(1)
	}
	// The IRC door listens on :6667 by default: every hubbub a test starts takes a port of its own.
	os.Setenv("HUBBUB_IRC_ADDR", "127.0.0.1:0")
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// proc is a hubbub process started by a test.
type proc struct {
	cmd    *exec.Cmd
	logs   *chattest.Logs
	addrs  map[string]string // service -> the address it listens on
	exited chan error
}

var listeningRE = regexp.MustCompile(`msg=listening service=(\w+) addr=(\S+)`)

// startProc runs `sh -c "<prefix> exec hubbub args..."` (prefix may set ulimits) with every
// service on an ephemeral port unless args say otherwise, and waits until the services listen.
func startProc(t *testing.T, prefix string, args ...string) *proc {
	t.Helper()
	all := append([]string{"--chat-addr", "127.0.0.1:0", "--quote-addr", "127.0.0.1:0", "--echo-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, args...)
	quoted := make([]string, len(all))
	for i, a := range all {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.Command("sh", "-c", prefix+" exec "+binary+" "+strings.Join(quoted, " "))
	// History goes to the test's own directory (a --data-dir in args wins over this).
	cmd.Env = append(os.Environ(), "HUBBUB_DATA_DIR="+t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &chattest.Logs{}, addrs: map[string]string{}, exited: make(chan error, 1)}
	listening := make(chan [2]string, 8) // more than there are services: the log is never held up
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				listening <- [2]string{m[1], m[2]}
			}
		}
	}()
	go func() {
		<-copied
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("hubbub logs:\n%s", p.logs)
		}
	})
	services := 5
	for i, a := range args { // a service switched off does not listen
		if strings.HasSuffix(a, "-addr=") || (strings.HasSuffix(a, "-addr") && i+1 < len(args) && args[i+1] == "") {
			services--
		}
	}
	for len(p.addrs) < services {
		select {
		case l := <-listening:
			p.addrs[l[0]] = l[1]
		case <-time.After(chattest.Timeout):
			t.Fatalf("hubbub did not start listening:\n%s", p.logs)
		}
	}
	return p
}

// wait returns the exit code once the process ends.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(2 * chattest.Timeout):
		t.Fatalf("hubbub did not exit:\n%s", p.logs)
		return -1
	}
}

func TestProcessServesAndStopsOnSignal(t *testing.T) {
	p := startProc(t, "")
	alice := chattest.Join(t, p.addrs["chat"], "alice")
	bob := chattest.Join(t, p.addrs["chat"], "bob")
	alice.Expect("bob has joined the channel")
	bob.Send("hello")
	alice.Expect("<bob> hello")

	q := chattest.Dial(t, p.addrs["quote"])
	q.Write("a new quote")
	q.Expect("Truth never dies")

	e := chattest.Dial(t, p.addrs["echo"])
	e.Send("echo me")
	e.Expect("echo me")

	p.cmd.Process.Signal(syscall.SIGTERM)
	for _, c := range []*chattest.Client{alice, bob} {
		c.Expect("*** server shutting down")
		c.ExpectClosed()
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	p.logs.WaitFor(t, "msg=stopped")
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	p := startProc(t, "", "--shutdown-timeout", "1m")
	// A user who never closes holds the graceful shutdown open for a while.
	chattest.Join(t, p.addrs["chat"], "stays")
	p.cmd.Process.Signal(syscall.SIGINT)
	p.logs.WaitFor(t, "shutting down")
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	p.logs.WaitFor(t, "second signal, exiting now")
}

func TestOutOfFileDescriptors(t *testing.T) {
	// With 40 descriptors, hubbub runs out of them long before the connections below.
	p := startProc(t, "ulimit -n 40;", "--max-conns-per-ip", "0")
	var inside, refused []*chattest.Client
	for range 45 {
		c := chattest.Dial(t, p.addrs["chat"])
		line := c.ReadLine()
		switch line {
		case "What's your name?":
			inside = append(inside, c)
		case "*** server full, try again later":
			c.ExpectClosed()
			refused = append(refused, c)
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if len(inside) == 0 || len(refused) == 0 {
		t.Fatalf("%d connections served, %d refused; want some of each", len(inside), len(refused))
	}
	p.logs.WaitFor(t, "accept failing, backing off", "too many open files")

	// It recovers by itself once descriptors are free again.
	for _, c := range inside[:5] {
		c.Conn.Close()
	}
	deadline := time.Now().Add(chattest.Timeout)
	for {
		c := chattest.Dial(t, p.addrs["chat"])
		line := c.ReadLine()
		if line == "What's your name?" {
			c.Send("recovered")
			c.Expect("Welcome, recovered!")
			break
		}
		c.Conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("still refused after descriptors were freed: %q", line)
		}
	}
}

func TestRealNetcat(t *testing.T) {
	nc := lookPath(t, "nc", "netcat-openbsd")
	p := startProc(t, "")
	alice := chattest.Join(t, p.addrs["chat"], "alice")

	host, port := splitAddr(t, p.addrs["chat"])
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nc, host, port)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	out := bufio.NewReader(stdout)
	expectOut := func(want string) {
		t.Helper()
		line, err := out.ReadString('\n')
		if err != nil || line != want+"\r\n" {
			t.Fatalf("nc printed %q (%v), want %q", line, err, want)
		}
	}
	expectOut("What's your name?")
	io.WriteString(stdin, "carol\n") // nc sends a bare LF, which the original server could not read
	expectOut("Welcome, carol!")
	alice.Expect("carol has joined the channel")
	io.WriteString(stdin, "hello from nc\n")
	alice.Expect("<carol> hello from nc")
	alice.Send("hi carol")
	expectOut("<alice> hi carol")
	io.WriteString(stdin, "/quit\n")
	expectOut("*** goodbye")
	alice.Expect("carol has left the channel.")
	stdin.Close()
}

func TestRealTelnet(t *testing.T) {
	telnet := lookPath(t, "telnet", "telnet")
	p := startProc(t, "")
	alice := chattest.Join(t, p.addrs["chat"], "alice")

	host, port := splitAddr(t, p.addrs["chat"])
	term := startPTY(t, telnet, host, port)
	term.expect("What's your name?")
	term.typeLine("dave")
	term.expect("Welcome, dave!")
	alice.Expect("dave has joined the channel")
	term.typeLine("hello from telnet")
	alice.Expect("<dave> hello from telnet")
	alice.Send("hi \x1b[2Jdave")
	term.expect("<alice> hi dave")
	term.typeLine("/quit see you")
	term.expect("*** goodbye")
	alice.Expect("dave has left the channel. (quit: see you)")
	term.expect("Connection closed by foreign host.")
}

func lookPath(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: apt-get install -y %s (.ci/run does)", name, pkg)
	}
	return path
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], addr[i+1:]
}

func TestBenchWithWorkerProcesses(t *testing.T) {
	p := startProc(t, "", "--line-rate", "0")
	tests := []struct {
		args []string
		want map[string]int64
	}{
		{[]string{"fanout", "--addr", p.addrs["chat"], "--users", "20", "--senders", "4", "--msgs", "50"},
			map[string]int64{"registered": 20, "deliveries": 4 * 50 * 19, "lost": 0, "reordered": 0}},
		{[]string{"quote", "--addr", p.addrs["quote"], "--conns", "600", "--in-flight", "60"},
			map[string]int64{"answers": 600, "duplicate_answers": 0, "never_handed_out": 0}},
		{[]string{"conns", "--addr", p.addrs["chat"], "--conns", "40", "--hold", "10ms", "--pid", fmt.Sprint(p.cmd.Process.Pid)},
			map[string]int64{"registered": 40}},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			out, err := exec.Command(binary, append(append([]string{"bench"}, tt.args...), "--procs", "2", "--json", "--timeout", "30s")...).Output()
			if err != nil {
				t.Fatalf("bench %v: %v", tt.args, err)
			}
			var r struct {
				Procs  int
				Counts map[string]int64
				Errors map[string]int64
				Server *struct {
					RSSAfter int64 `json:"rss_after_bytes"`
				}
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if r.Procs != 2 || len(r.Errors) > 0 {
				t.Errorf("procs %d, errors %v", r.Procs, r.Errors)
			}
			for k, v := range tt.want {
				if r.Counts[k] != v {
					t.Errorf("%s = %d, want %d", k, r.Counts[k], v)
				}
			}
			if tt.args[0] == "conns" && (r.Server == nil || r.Server.RSSAfter == 0) {
				t.Errorf("no server RSS sampled: %s", out)
			}
		})
	}
}
