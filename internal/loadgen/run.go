// Package loadgen is what `hubbub bench` runs: load scenarios that talk to a chat, quote or echo
// server over real TCP, measure it, and report. It speaks only the wire protocol, with its own
// client code, so that it measures the original Python servers exactly as it measures hubbub.
package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options are what every scenario takes.
type Options struct {
	// Addr is the server's address, or a comma-separated list of addresses (the nodes of a
	// cluster): chat users are spread over them round-robin by their number, so senders are too.
	Addr        string
	Timeout     time.Duration // bounds the whole run
	AllowRemote bool          // permit targets outside 127.0.0.0/8 and ::1
	WS          bool          // chat scenarios talk to the WebSocket endpoint (ws://Addr/ws)
	IRC         bool          // chat scenarios speak IRC to Addr (NICK/USER, JOIN, PRIVMSG)
	MaxErrors   int64         // a run with more errors than this fails
	// Room, when set, is the chat room the users of chat scenarios /join before anything else,
	// when the server has rooms, so that a run stays out of the lobby and its history.
	Room string
	// RoomSize, when set with Room, puts the chat users in rooms of that many (user i in room
	// ROOM-k, k = i/RoomSize) and takes them out of the lobby, so that no room holds everyone.
	RoomSize int

	// Part and Parts split the work between worker processes: this one does part Part (from 0)
	// of Parts. A single process is part 0 of 1.
	Part, Parts int
	// Ready is called when the setup phase (connecting, registering) is done, with the
	// fan-out senders of this part that are connected; it returns when every worker is ready,
	// so that the measured phase starts everywhere at once, with the senders of every part.
	Ready func(ctx context.Context, senders []int) ([]int, error)
	// Progress, when set, receives the fraction of the run done, for a progress bar.
	Progress func(phase string, done, total int64)
}

func (o *Options) ready(ctx context.Context, senders []int) ([]int, error) {
	if o.Ready == nil {
		return senders, nil
	}
	return o.Ready(ctx, senders)
}

// share returns the range [lo, hi) of n items that this part handles.
func (o *Options) share(n int) (lo, hi int) {
	parts := max(o.Parts, 1)
	return n * o.Part / parts, n * (o.Part + 1) / parts
}

// dialer opens connections to the targets, spreading their source addresses over 127.0.0.x
// when the targets are on loopback: one source address has only ~28,000 ports to connect from.
type dialer struct {
	targets []string
	spread  bool
	ws      bool // chat connections go to the WebSocket endpoint
	irc     bool // chat connections speak IRC
	next    atomic.Uint32
	timeout time.Duration
}

// target returns the address user i connects to: the targets taken in turn.
func (d *dialer) target(i int) string { return d.targets[i%len(d.targets)] }

// connect opens a chat connection for user i: TCP lines, or a WebSocket when the options say so.
func (d *dialer) connect(ctx context.Context, i int) (*lineConn, error) {
	if d.ws {
		return d.dialWS(ctx, d.target(i))
	}
	if d.irc {
		return d.connectIRC(ctx, i)
	}
	c, err := d.dialTo(ctx, d.target(i))
	if err != nil {
		return nil, err
	}
	return &lineConn{c: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

func newDialer(o Options) (*dialer, error) {
	if o.WS && o.IRC {
		return nil, errors.New("WebSocket or IRC: not both")
	}
	d := &dialer{spread: true, ws: o.WS, irc: o.IRC, timeout: 10 * time.Second}
	for a := range strings.SplitSeq(o.Addr, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("empty address in %q: give host:port, or several separated by commas", o.Addr)
		}
		ap, err := resolve(a)
		if err != nil {
			return nil, err
		}
		loopback := ap.Addr().IsLoopback()
		if !loopback && !o.AllowRemote {
			return nil, fmt.Errorf("target %s is not on this machine (127.0.0.0/8 or ::1); pass --allow-remote to load another host", a)
		}
		// Source addresses spread over 127.0.0.x reach only an IPv4 loopback target.
		d.spread = d.spread && loopback && ap.Addr().Is4()
		d.targets = append(d.targets, ap.String())
	}
	return d, nil
}

// Addrs returns how many addresses addr lists (comma-separated).
func Addrs(addr string) int { return strings.Count(addr, ",") + 1 }

func resolve(addr string) (netip.AddrPort, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", addr, err)
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// dial opens a TCP connection to the next target in turn.
func (d *dialer) dial(ctx context.Context) (*net.TCPConn, error) {
	n := d.next.Add(1)
	return d.dialFrom(ctx, d.targets[n%uint32(len(d.targets))], n)
}

// dialTo opens a TCP connection to target.
func (d *dialer) dialTo(ctx context.Context, target string) (*net.TCPConn, error) {
	return d.dialFrom(ctx, target, d.next.Add(1))
}

// dialFrom opens a TCP connection to target, from the n-th source address when they are spread.
func (d *dialer) dialFrom(ctx context.Context, target string, n uint32) (*net.TCPConn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	if d.spread {
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+n%254))}
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			// Let connect choose the port, per destination, instead of bind choosing it alone.
			return c.Control(bindAddressNoPort)
		}
	}
	c, err := nd.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// ProcStats is what /proc says of the server processes (the nodes of a cluster), summed.
type ProcStats struct {
	PID        int     `json:"pid,omitempty"` // when there is one
	PIDs       []int   `json:"pids,omitempty"`
	RSSBefore  int64   `json:"rss_before_bytes"`
	RSSAfter   int64   `json:"rss_after_bytes"`
	PeakRSS    int64   `json:"peak_rss_bytes"` // the sum of each one's peak, which may not have come at once
	CPUSeconds float64 `json:"cpu_seconds"`    // used during the run
	cpuBefore  float64
}

// readProc reads RSS, peak RSS and CPU seconds of pid from /proc.
func readProc(pid int) (rss, peak int64, cpu float64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("server process: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		var kbs int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kbs); err == nil {
			rss = kbs << 10
		}
		if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kbs); err == nil {
			peak = kbs << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("server process: %w", err)
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) > 12 {
		var utime, stime float64
		fmt.Sscan(fields[11], &utime)
		fmt.Sscan(fields[12], &stime)
		cpu = (utime + stime) / 100 // clock ticks; 100 per second on Linux
	}
	return rss, peak, cpu, nil
}

// Scenario is one load scenario: it runs its share of the work and reports.
type Scenario func(ctx context.Context, o Options) (*Result, error)

// Run runs scenario in this process, sampling the server processes pids (none if empty)
// before the run and once every part is ready, and computes the rates.
func Run(ctx context.Context, scenario Scenario, o Options, pids []int) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	stats, err := startStats(pids)
	if err != nil {
		return nil, err
	}
	o.Part, o.Parts = 0, 1
	o.Ready = func(_ context.Context, senders []int) ([]int, error) { return senders, stats.sample() }
	r, err := scenario(ctx, o)
	if err != nil {
		return nil, err
	}
	r.Server = stats.finish()
	r.finish(o.MaxErrors)
	return r, nil
}

type statsSampler struct {
	pids  []int
	stats *ProcStats
}

// readProcs reads and sums readProc of every pid.
func readProcs(pids []int) (rss, peak int64, cpu float64, err error) {
	for _, pid := range pids {
		r, p, c, err := readProc(pid)
		if err != nil {
			return 0, 0, 0, err
		}
		rss, peak, cpu = rss+r, peak+p, cpu+c
	}
	return rss, peak, cpu, nil
}

func startStats(pids []int) (*statsSampler, error) {
	if len(pids) == 0 {
		return &statsSampler{}, nil
	}
	rss, _, cpu, err := readProcs(pids)
	if err != nil {
		return nil, err
	}
	st := &ProcStats{RSSBefore: rss, cpuBefore: cpu}
	if len(pids) == 1 {
		st.PID = pids[0]
	} else {
		st.PIDs = pids
	}
	return &statsSampler{pids: pids, stats: st}, nil
}

// sample records the servers' RSS once the setup is done.
func (s *statsSampler) sample() error {
	if len(s.pids) == 0 {
		return nil
	}
	rss, _, _, err := readProcs(s.pids)
	s.stats.RSSAfter = rss
	return err
}

func (s *statsSampler) finish() *ProcStats {
	if len(s.pids) == 0 {
		return nil
	}
	if _, peak, cpu, err := readProcs(s.pids); err == nil {
		s.stats.PeakRSS = peak
		s.stats.CPUSeconds = cpu - s.stats.cpuBefore
	}
	return s.stats
}

// RunWorkers runs the scenario in procs worker processes: the same program started with args
// plus --worker I/K. Each worker does its share, says "ready" when set up, waits for "go", and
// prints its Result as JSON. The results are merged.
func RunWorkers(ctx context.Context, procs int, args []string, o Options, pids []int) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+10*time.Second)
	defer cancel()
	stats, err := startStats(pids)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	type worker struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	workers := make([]*worker, procs)
	for i := range workers {
		cmd := exec.CommandContext(ctx, self, append(append([]string{}, args...), "--worker", fmt.Sprintf("%d/%d", i, procs))...)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		workers[i] = &worker{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(stdout, 1<<20)}
		defer cmd.Wait()
		defer stdin.Close()
	}
	// Each worker says "ready" and the senders it has connected; each is told "go" and
	// every worker's senders.
	var senders []string
	for i, w := range workers {
		line, err := w.out.ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) == 0 || f[0] != "ready" {
			return nil, fmt.Errorf("worker %d did not get ready: %q %v", i, line, err)
		}
		senders = append(senders, f[1:]...)
	}
	if err := stats.sample(); err != nil {
		return nil, err
	}
	for _, w := range workers {
		io.WriteString(w.stdin, strings.Join(append([]string{"go"}, senders...), " ")+"\n")
	}
	merged := newResult("", o.Addr)
	for i, w := range workers {
		var r Result
		if err := json.NewDecoder(w.out).Decode(&r); err != nil {
			return nil, fmt.Errorf("worker %d result: %w", i, err)
		}
		merged.Scenario = r.Scenario
		merged.merge(&r)
	}
	merged.Procs = procs
	merged.Server = stats.finish()
	merged.finish(o.MaxErrors)
	return merged, nil
}

// RunAsWorker runs this process's part of a RunWorkers run: it says "ready" on out when set up,
// waits for "go" on in, and writes its result to out as JSON.
func RunAsWorker(ctx context.Context, scenario Scenario, o Options, part, parts int, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	o.Part, o.Parts = part, parts
	o.Progress = nil
	var once sync.Once
	o.Ready = func(ctx context.Context, mine []int) (all []int, err error) {
		once.Do(func() {
			words := []string{"ready"}
			for _, s := range mine {
				words = append(words, strconv.Itoa(s))
			}
			fmt.Fprintln(out, strings.Join(words, " "))
			line, rerr := bufio.NewReader(in).ReadString('\n')
			f := strings.Fields(line)
			if rerr != nil || len(f) == 0 || f[0] != "go" {
				err = errors.New("the parent process went away")
				return
			}
			for _, w := range f[1:] {
				s, cerr := strconv.Atoi(w)
				if cerr != nil {
					err = fmt.Errorf("bad sender %q from the parent process", w)
					return
				}
				all = append(all, s)
			}
		})
		return all, err
	}
	r, err := scenario(ctx, o)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(r)
}
