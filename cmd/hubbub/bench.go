package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"hubbub/internal/loadgen"
)

const benchUsage = `Usage: hubbub bench SCENARIO [flags]

Scenarios:
  fanout   users register; senders say lines to everyone; deliveries/s, latency, lost, reordered
           (--ws: over WebSocket; --irc: as IRC clients, NICK/USER, JOIN, PRIVMSG)
  conns    open and register connections and hold them; registration time, server RSS per connection
           (--ws, --irc: as for fanout)
  quote    the original quote client: connections that each send a quote and read the answer
  echo     connections doing request/response round trips

hubbub bench SCENARIO --help lists the scenario's flags. A run that measured nothing, lost or
reordered lines, or met more errors than --max-errors exits 1 and says why.
`

// bench runs `hubbub bench SCENARIO [flags]`. It returns 0 when the run succeeded, 1 when
// it failed or could not run, 2 for a bad command line.
func bench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, benchUsage)
		return 0
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, "hubbub bench: which scenario?\n\n"+benchUsage)
		return 2
	}
	scenarioName, rest := args[0], args[1:]
	fs := flag.NewFlagSet("hubbub bench "+scenarioName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, a := range rest {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout) // asked for: not an error
		}
	}
	fs.Usage = func() { printBenchUsage(fs, scenarioName) }
	var (
		addr        = fs.String("addr", "", "server `address`, or several separated by commas (a cluster's nodes): connections go to each in turn (default: the scenario's service on 127.0.0.1)")
		timeout     = fs.Duration("timeout", time.Minute, "bound on the whole run")
		maxErrors   = fs.Int64("max-errors", 0, "`N` errors a run may meet and still succeed")
		asJSON      = fs.Bool("json", false, "print one JSON object instead of a table")
		allowRemote = fs.Bool("allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1")
		procs       = fs.Int("procs", 1, "worker `processes` to split the work over (one holds at most ~19,900 sockets here)")
		pid         = fs.String("pid", "", "server process `PID` to sample from /proc (RSS, peak RSS, CPU seconds), or several separated by commas, summed")
		worker      = fs.String("worker", "", "internal: run as worker I/K of a --procs run")
		runID       = fs.String("run-id", "", "internal: the run's id, shared by its workers")
	)
	var scenario loadgen.Scenario
	defaultAddr := "127.0.0.1:8000"
	var ws, irc *bool
	ircFlag := func() *bool {
		return fs.Bool("irc", false, "speak IRC to an IRC server (hubbub's --irc-addr, default 127.0.0.1:6667): NICK/USER, JOIN, PRIVMSG, instead of the line conversation")
	}
	wsFlag := func() *bool {
		return fs.Bool("ws", false, "connect users to the WebSocket endpoint (ws://ADDR/ws, default 127.0.0.1:8080) instead of TCP lines")
	}
	var room *string
	var roomSize *int
	roomFlag := func() *string {
		roomSize = fs.Int("room-size", 0, "put the users in rooms of `N` (ROOM-0, ROOM-1, ...; --room defaults to bench) and take them out of the lobby")
		return fs.String("room", "", "chat `ROOM` the users /join first when the server has rooms, so that the run stays out of the lobby and its history")
	}
	switch scenarioName {
	case "fanout":
		ws = wsFlag()
		irc = ircFlag()
		users := fs.Int("users", 100, "users who register")
		senders := fs.Int("senders", 10, "users who send (with --room-size: in each room)")
		msgs := fs.Int("msgs", 1000, "lines each sender says")
		rate := fs.Float64("rate", 0, "lines per second per sender; 0: as fast as the socket takes them")
		room = roomFlag()
		scenario = lazy(func() loadgen.Scenario {
			return loadgen.Fanout(loadgen.FanoutConfig{Users: *users, Senders: *senders, Msgs: *msgs, Rate: *rate, RunID: *runID})
		})
	case "conns":
		conns := fs.Int("conns", 1000, "connections to open and register")
		hold := fs.Duration("hold", 2*time.Second, "how long to hold them idle before measuring")
		ws = wsFlag()
		irc = ircFlag()
		room = roomFlag()
		scenario = lazy(func() loadgen.Scenario {
			return loadgen.Conns(loadgen.ConnsConfig{Conns: *conns, Hold: *hold, RunID: *runID})
		})
	case "quote":
		defaultAddr = "127.0.0.1:9000"
		conns := fs.Int("conns", 30000, "connections, each one quote")
		inFlight := fs.Int("in-flight", 1000, "connections open at once")
		scenario = lazy(func() loadgen.Scenario {
			return loadgen.Quote(loadgen.QuoteConfig{Conns: *conns, InFlight: *inFlight, RunID: *runID})
		})
	case "echo":
		defaultAddr = "127.0.0.1:8007"
		conns := fs.Int("conns", 50, "connections")
		size := fs.Int("bytes", 64, "bytes per request")
		duration := fs.Duration("duration", 5*time.Second, "how long to run")
		scenario = lazy(func() loadgen.Scenario {
			return loadgen.Echo(loadgen.EchoConfig{Conns: *conns, Bytes: *size, Duration: *duration})
		})
	default:
		fmt.Fprintf(stderr, "hubbub bench: unknown scenario %q\n\n%s", scenarioName, benchUsage)
		return 2
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hubbub bench %s: unexpected %q (flags start with --)\n", scenarioName, fs.Arg(0))
		return 2
	}
	useWS := ws != nil && *ws
	useIRC := irc != nil && *irc
	if useWS && useIRC {
		fmt.Fprintf(stderr, "hubbub bench %s: --ws or --irc, not both\n", scenarioName)
		return 2
	}
	roomName := ""
	if room != nil {
		roomName = *room
		// One word: the room's name is the rest of a /join line, and the server judges it.
		if strings.ContainsFunc(roomName, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) ||
			strings.HasPrefix(roomName, "/") {
			fmt.Fprintf(stderr, "hubbub bench %s: --room takes one word, such as bench or #bench\n", scenarioName)
			return 2
		}
		// A comma separates channels in an IRC JOIN: the run would wait for a channel it never joined.
		if useIRC && strings.Contains(roomName, ",") {
			fmt.Fprintf(stderr, "hubbub bench %s: with --irc, --room takes one channel, without a comma\n", scenarioName)
			return 2
		}
	}
	var pids []int
	if *pid != "" {
		for p := range strings.SplitSeq(*pid, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "hubbub bench %s: --pid takes process ids separated by commas, not %q\n", scenarioName, *pid)
				return 2
			}
			pids = append(pids, n)
		}
	}
	size := 0
	if roomSize != nil {
		size = *roomSize
		if size < 0 {
			fmt.Fprintf(stderr, "hubbub bench %s: --room-size takes a number of users >= 1\n", scenarioName)
			return 2
		}
		if size > 0 && roomName == "" {
			roomName = "bench"
		}
	}
	if *addr == "" {
		*addr = defaultAddr
		if useWS {
			*addr = "127.0.0.1:8080"
		}
		if useIRC {
			*addr = "127.0.0.1:6667"
		}
	}
	if *runID == "" {
		b := make([]byte, 2)
		rand.Read(b)
		*runID = hex.EncodeToString(b)
	}
	opts := loadgen.Options{Addr: *addr, Timeout: *timeout, AllowRemote: *allowRemote, WS: useWS, IRC: useIRC, MaxErrors: *maxErrors, Room: roomName, RoomSize: size}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *worker != "" {
		var part, parts int
		if _, err := fmt.Sscanf(*worker, "%d/%d", &part, &parts); err != nil || part < 0 || part >= parts {
			fmt.Fprintf(stderr, "hubbub bench: bad --worker %q\n", *worker)
			return 2
		}
		if err := loadgen.RunAsWorker(ctx, scenario, opts, part, parts, os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "hubbub bench worker %d: %v\n", part, err)
			return 1
		}
		return 0
	}
	if isTerminal(os.Stderr) {
		opts.Progress = progressBar(stderr)
	}
	var r *loadgen.Result
	var err error
	if *procs > 1 {
		workerArgs := append([]string{"bench", scenarioName}, rest...)
		workerArgs = append(workerArgs, "--run-id", *runID)
		r, err = loadgen.RunWorkers(ctx, *procs, workerArgs, opts, pids)
	} else {
		r, err = loadgen.Run(ctx, scenario, opts, pids)
	}
	if opts.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "hubbub bench: %v\n", err)
		return 1
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(r)
	} else {
		r.WriteTable(stdout)
	}
	if r.Failed() {
		fmt.Fprintf(stderr, "hubbub bench: the run failed: %s\n", strings.Join(r.Failures, "; "))
		return 1
	}
	return 0
}

// printBenchUsage lists a scenario's flags, written --name as everywhere else in hubbub.
func printBenchUsage(fs *flag.FlagSet, scenario string) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: hubbub bench %s [flags]\n\nFlags:\n", scenario)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		kind, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  %s\n        %s", strings.TrimSpace("--"+f.Name+" "+kind), usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// lazy defers building the scenario until the flags it reads are parsed.
func lazy(build func() loadgen.Scenario) loadgen.Scenario {
	return func(ctx context.Context, o loadgen.Options) (*loadgen.Result, error) {
		return build()(ctx, o)
	}
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// progressBar draws one line on w, redrawn in place.
func progressBar(w io.Writer) func(phase string, done, total int64) {
	return func(phase string, done, total int64) {
		if total <= 0 {
			fmt.Fprintf(w, "\r\033[K%-9s %d", phase, done)
			return
		}
		const width = 30
		filled := int(min(done, total) * width / total)
		fmt.Fprintf(w, "\r\033[K%-9s [%s%s] %3d%%  %d/%d", phase, strings.Repeat("=", filled),
			strings.Repeat(" ", width-filled), done*100/total, done, total)
	}
}
