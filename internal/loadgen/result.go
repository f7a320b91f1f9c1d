package loadgen

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Result is what one run of a scenario measured. Worker processes send theirs to the parent
// as JSON, which merges them.
type Result struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"`
	Procs    int    `json:"procs"`
	// Room is the room the chat users joined, "-" when one was asked for and the server has
	// no rooms, empty when none was asked for.
	Room    string           `json:"room,omitempty"`
	Counts  map[string]int64 `json:"counts"`
	Errors  map[string]int64 `json:"errors"`
	Latency map[string]*Hist `json:"latency"`
	// Windows are the phases of the run, each from its first event to its last, as Unix
	// nanoseconds: "register" (first connect to last welcome), "run" (for example first message
	// sent to last received).
	Windows map[string][2]int64 `json:"windows"`
	// Computed from the above once every worker's result is in.
	Rates  map[string]float64 `json:"rates"`
	Server *ProcStats         `json:"server,omitempty"`
	// Failures say why the run failed (nothing delivered, lines lost, too many errors); none
	// when it succeeded.
	Failures []string `json:"failures,omitempty"`
	// Answers holds every answer of the quote scenario, for the exactly-once check across
	// workers. It is dropped from the final report.
	Answers []string `json:"answers,omitempty"`
	// SentBy and GotFrom count, per fan-out sender, the lines it sent and the deliveries of
	// them that receivers counted, so that what was lost is reckoned from what was really sent
	// (a sender that never connected loses nothing), across workers. Dropped from the final
	// report.
	SentBy  []int64 `json:"sent_by,omitempty"`
	GotFrom []int64 `json:"got_from,omitempty"`
	// RoomMembers counts the fan-out's registered users in each room, and SendersPerRoom is
	// how many of each room send: sender s, in room s/SendersPerRoom, should reach every member
	// of its room but itself. Dropped from the final report.
	RoomMembers    []int64 `json:"room_members,omitempty"`
	SendersPerRoom int     `json:"senders_per_room,omitempty"`
	// Addrs is how many server addresses the run spread its connections over.
	Addrs int `json:"addrs"`
}

func newResult(scenario, target string) *Result {
	return &Result{
		Scenario: scenario, Target: target, Procs: 1, Addrs: Addrs(target),
		Counts: map[string]int64{}, Errors: map[string]int64{}, Latency: map[string]*Hist{},
		Rates: map[string]float64{}, Windows: map[string][2]int64{},
	}
}

func (r *Result) hist(name string) *Hist {
	h, ok := r.Latency[name]
	if !ok {
		h = &Hist{}
		r.Latency[name] = h
	}
	return h
}

// widen stretches the window called name to cover start..end (Unix nanoseconds; 0 is unset).
func (r *Result) widen(name string, start, end int64) {
	w := r.Windows[name]
	if start != 0 && (w[0] == 0 || start < w[0]) {
		w[0] = start
	}
	if end > w[1] {
		w[1] = end
	}
	r.Windows[name] = w
}

// Window returns how long the window called name lasted.
func (r *Result) Window(name string) time.Duration {
	w := r.Windows[name]
	if w[0] == 0 || w[1] < w[0] {
		return 0
	}
	return time.Duration(w[1] - w[0])
}

// merge adds a worker's result to r.
func (r *Result) merge(o *Result) {
	for k, v := range o.Counts {
		r.Counts[k] += v
	}
	for k, v := range o.Errors {
		r.Errors[k] += v
	}
	for k, h := range o.Latency {
		r.hist(k).Merge(h)
	}
	for k, w := range o.Windows {
		r.widen(k, w[0], w[1])
	}
	r.Answers = append(r.Answers, o.Answers...)
	if o.Room != "" {
		r.Room = o.Room
	}
	r.SentBy = addInto(r.SentBy, o.SentBy)
	r.GotFrom = addInto(r.GotFrom, o.GotFrom)
	r.RoomMembers = addInto(r.RoomMembers, o.RoomMembers)
	r.SendersPerRoom = max(r.SendersPerRoom, o.SendersPerRoom)
}

// addInto adds b to a element by element, growing a to b's length.
func addInto(a, b []int64) []int64 {
	for len(a) < len(b) {
		a = append(a, 0)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// errorCounts counts errors by kind, so that a run goes on through errors and reports them.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *errorCounts) add(err error) {
	kind := errorKind(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]int64{}
	}
	e.m[kind]++
}

func (e *errorCounts) into(r *Result) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, v := range e.m {
		r.Errors[k] += v
	}
}

// errorKind names an error without the addresses and ports that make each one unique.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local address or port free"
	case errors.Is(err, syscall.EMFILE):
		return "too many open files"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by server"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	}
	var se *serverSaid
	if errors.As(err, &se) {
		return "server said: " + se.line
	}
	return err.Error()
}

// serverSaid is an error that is a line the server sent (a refusal, a name taken).
type serverSaid struct{ line string }

func (e *serverSaid) Error() string { return "server said: " + e.line }

// WriteTable writes r as a readable table. Figures that carry their unit (KB, s) are named
// without it; the JSON keeps the unit in the name and the figure in that unit.
func (r *Result) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "%s against %s (%d address%s, %d process%s)\n", r.Scenario, r.Target,
		r.Addrs, map[bool]string{true: "es"}[r.Addrs > 1], r.Procs, map[bool]string{true: "es"}[r.Procs > 1])
	var rows [][2]string
	row := func(k, v string) { rows = append(rows, [2]string{k, v}) }
	switch r.Room {
	case "":
	case "-":
		row("room", "none: the server has no rooms")
	default:
		row("room", r.Room)
	}
	for _, k := range sortedKeys(r.Rates) {
		label, value := formatRate(k, r.Rates[k])
		row(label, value)
	}
	for _, k := range sortedKeys(r.Counts) {
		row(k, fmt.Sprint(r.Counts[k]))
	}
	for _, k := range sortedKeys(r.Latency) {
		h := r.Latency[k]
		if h.Count() == 0 {
			continue
		}
		row(k+" latency", fmt.Sprintf("p50 %v  p99 %v  p99.9 %v  max %v",
			round(h.Quantile(0.5)), round(h.Quantile(0.99)), round(h.Quantile(0.999)), round(h.Max())))
	}
	if s := r.Server; s != nil {
		row("server RSS", fmt.Sprintf("%s before, %s after, peak %s", kb(s.RSSBefore), kb(s.RSSAfter), kb(s.PeakRSS)))
		row("server CPU", fmt.Sprintf("%.2f s", s.CPUSeconds))
	}
	if len(r.Errors) == 0 {
		row("errors", "none")
	}
	var errs []string
	for k, v := range r.Errors {
		errs = append(errs, fmt.Sprintf("%d × %s", v, k))
	}
	sort.Strings(errs)
	for _, e := range errs {
		row("error", e)
	}
	if r.Failed() {
		for _, f := range r.Failures {
			row("FAILED", f)
		}
	} else {
		row("result", "ok")
	}
	width := 0
	for _, rw := range rows {
		width = max(width, utf8.RuneCountInString(rw[0]))
	}
	for _, rw := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, rw[0], rw[1])
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// formatRate returns the table's label and value for the rate called name.
func formatRate(name string, v float64) (label, value string) {
	switch {
	case strings.HasSuffix(name, "_bytes"):
		return strings.TrimSuffix(name, "_bytes"), kb(int64(math.Round(v)))
	case strings.HasSuffix(name, "_seconds"):
		return strings.TrimSuffix(name, "_seconds") + "_time", fmt.Sprintf("%.3f s", v)
	case v >= 1e6:
		return name, fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return name, fmt.Sprintf("%.1f k", v/1e3)
	}
	return name, fmt.Sprintf("%.2f", v)
}

// kb writes a number of bytes in B, KB or MB (of 1024), whichever reads best.
func kb(b int64) string {
	switch a := max(b, -b); {
	case a >= 10<<20:
		return fmt.Sprintf("%.1f MB", float64(b)/(1<<20))
	case a >= 1024:
		return fmt.Sprintf("%.1f KB", float64(b)/1024)
	}
	return fmt.Sprintf("%d B", b)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// finish computes the rates and the verdict once every part's result is merged in. A run
// with more than maxErrors errors fails.
func (r *Result) finish(maxErrors int64) {
	checkQuotes(r)
	checkDeliveries(r)
	run := r.Window("run").Seconds()
	per := func(name, count string) {
		if run > 0 {
			r.Rates[name] = float64(r.Counts[count]) / run
		}
	}
	switch r.Scenario {
	case "fanout":
		per("deliveries_per_s", "deliveries")
	case "quote":
		per("conns_per_s", "answers")
	case "echo":
		per("round_trips_per_s", "round_trips")
	}
	if reg := r.Window("register"); reg > 0 {
		r.Rates["register_seconds"] = reg.Seconds()
	}
	if s := r.Server; s != nil && r.Scenario == "conns" && r.Counts["registered"] > 0 {
		r.Rates["server_rss_per_conn_bytes"] = float64(s.RSSAfter-s.RSSBefore) / float64(r.Counts["registered"])
	}
	r.Failures = r.failures(maxErrors)
}

// checkDeliveries reckons the fan-out's expected and lost deliveries from what each sender
// really sent: every registered user of its room but the sender should have had each of its
// lines.
func checkDeliveries(r *Result) {
	if r.Scenario != "fanout" {
		return
	}
	var expected, lost int64
	for s, sent := range r.SentBy {
		var receivers int64
		if room := s / max(r.SendersPerRoom, 1); room < len(r.RoomMembers) {
			receivers = max(r.RoomMembers[room]-1, 0)
		}
		want := sent * receivers
		expected += want
		if s < len(r.GotFrom) {
			want -= r.GotFrom[s]
		}
		lost += max(want, 0)
	}
	r.Counts["expected"] = expected
	r.Counts["lost"] = lost
	if len(r.RoomMembers) > 1 {
		r.Counts["rooms"] = int64(len(r.RoomMembers))
	}
	r.SentBy, r.GotFrom, r.RoomMembers, r.SendersPerRoom = nil, nil, nil, 0
}

// failures says why the run failed, if it did: a run that measured nothing, lost or reordered
// lines, handed a quote out twice or never, or met more than maxErrors errors is no
// measurement, whatever its rates say.
func (r *Result) failures(maxErrors int64) []string {
	var why []string
	fail := func(cond bool, format string, args ...any) {
		if cond {
			why = append(why, fmt.Sprintf(format, args...))
		}
	}
	c := r.Counts
	switch r.Scenario {
	case "fanout":
		fail(c["lines_sent"] == 0, "no line was sent")
		fail(c["lines_sent"] > 0 && c["deliveries"] == 0, "nothing was delivered")
		fail(c["lost"] > 0, "%d deliveries lost", c["lost"])
		fail(c["reordered"] > 0, "%d lines out of order", c["reordered"])
	case "conns":
		fail(c["registered"] == 0, "no connection registered")
	case "quote":
		fail(c["answers"] == 0, "no quote was answered")
		fail(c["duplicate_answers"] > 0, "%d quotes handed out twice", c["duplicate_answers"])
		fail(c["never_handed_out"] > 0, "%d quotes never handed out", c["never_handed_out"])
	case "echo":
		fail(c["round_trips"] == 0, "no round trip")
	}
	var errs int64
	for _, n := range r.Errors {
		errs += n
	}
	fail(errs > maxErrors, "%d errors, more than --max-errors %d", errs, maxErrors)
	return why
}

// Failed reports whether the run failed; Failures say why.
func (r *Result) Failed() bool { return len(r.Failures) > 0 }
