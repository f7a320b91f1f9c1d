package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FanoutConfig is the fan-out scenario: Users register; the first Senders of them each say
// Msgs lines, at Rate lines per second each (0: as fast as the socket takes them); everyone
// counts what they receive from each sender, in order, and how long it took.
type FanoutConfig struct {
	Users, Senders, Msgs int
	Rate                 float64
	RunID                string // makes the names of this run unique
}

// A fan-out message says which run, who sent it, its number, and when:
// "m RUNID SENDER SEQ UNIXNANO". The
// Twisted original shows it as "<b'NAME'> b'm ...'" (Python 3 formats bytes that way), so the
// mark is looked for with and without the b'.
var (
	msgMark      = []byte("> m ")
	msgMarkBytes = []byte("> b'm ")
)

// Fanout returns the fan-out scenario.
func Fanout(cfg FanoutConfig) Scenario {
	return func(ctx context.Context, o Options) (*Result, error) {
		if cfg.Users < 2 || cfg.Senders < 1 || cfg.Senders > cfg.Users || cfg.Msgs < 1 {
			return nil, fmt.Errorf("fanout needs --users >= 2, 1 <= --senders <= --users, --msgs >= 1")
		}
		d, err := newDialer(o)
		if err != nil {
			return nil, err
		}
		r := newResult("fanout", o.Addr)
		var errs errorCounts
		lo, hi := o.share(cfg.Users)

		var (
			mu       sync.Mutex
			conns    = map[int]*lineConn{}        // guarded by mu until registerAll returns
			recvs    []*receiver                  // guarded by mu until registerAll returns
			gotFrom  = make([]int64, cfg.Senders) // guarded by mu
			lastRecv int64                        // guarded by mu
			received atomic.Int64
			reorder  atomic.Int64
			readers  sync.WaitGroup // every receiving goroutine
			pending  sync.WaitGroup // receivers that have not had all they should yet
			latency  = r.hist("delivery")
		)
		err = registerAll(ctx, &o, d, r, &errs, cfg.RunID, lo, hi, 64, func(i int, lc *lineConn) {
			rc := &receiver{id: i, lc: lc, done: pending.Done}
			rc.want.Store(math.MaxInt64) // until every part has said which senders it has
			pending.Add(1)
			mu.Lock()
			conns[i] = lc
			recvs = append(recvs, rc)
			mu.Unlock()
			// Receivers read from the start, so that the joins of those after them do not
			// pile up at the server.
			readers.Go(func() {
				lc.c.SetReadDeadline(time.Time{})
				if dl, ok := ctx.Deadline(); ok {
					lc.c.SetReadDeadline(dl)
				}
				from, last, h := rc.receive([]byte(cfg.RunID+" "), &received, &reorder, &errs, cfg.Senders)
				mu.Lock()
				defer mu.Unlock()
				latency.Merge(h)
				addInto(gotFrom, from)
				lastRecv = max(lastRecv, last)
			})
		})
		if err != nil {
			return nil, err // found before anyone registered
		}
		closeAll := func() {
			for _, lc := range conns {
				lc.close()
			}
			readers.Wait()
		}
		var mine []int // the senders of this part that registered
		for i := lo; i < min(hi, cfg.Senders); i++ {
			if conns[i] != nil {
				mine = append(mine, i)
			}
		}
		live, err := o.ready(ctx, mine)
		if err != nil {
			closeAll()
			return nil, err
		}
		// Each receiver should have every line of every sender that registered, but its own.
		isLive := make([]bool, cfg.Senders)
		for _, s := range live {
			if s >= 0 && s < cfg.Senders {
				isLive[s] = true
			}
		}
		var expected int64
		for _, rc := range recvs {
			n := int64(0)
			for s, ok := range isLive {
				if ok && s != rc.id {
					n += int64(cfg.Msgs)
				}
			}
			expected += n
			rc.setWant(n)
		}

		stop := o.track("fanout", expected, &received)
		var firstSend atomic.Int64
		var senders sync.WaitGroup
		sentBy := make([]int64, cfg.Senders) // each element written by its sender alone
		for _, i := range mine {
			lc := conns[i]
			senders.Go(func() {
				n, err := send(ctx, lc, i, cfg, &firstSend)
				sentBy[i] = n
				if err != nil {
					errs.add(fmt.Errorf("send: %w", err))
				}
			})
		}
		senders.Wait()
		allIn := make(chan struct{})
		go func() {
			pending.Wait() // every receiver is done by the time closeAll returns
			close(allIn)
		}()
		select {
		case <-allIn:
		case <-ctx.Done():
			errs.add(fmt.Errorf("waiting for deliveries: %w", ctx.Err()))
		}
		closeAll()
		<-allIn
		stop()

		errs.into(r)
		var sent int64
		for _, n := range sentBy {
			sent += n
		}
		r.Counts["lines_attempted"] = int64(max(min(hi, cfg.Senders)-lo, 0)) * int64(cfg.Msgs)
		r.Counts["lines_sent"] = sent
		r.Counts["deliveries"] = received.Load()
		r.Counts["reordered"] = reorder.Load()
		r.SentBy, r.GotFrom = sentBy, gotFrom
		r.widen("run", firstSend.Load(), lastRecv)
		return r, nil
	}
}

// receiver is one user of the fan-out as it receives.
type receiver struct {
	id   int
	lc   *lineConn
	want atomic.Int64 // deliveries it should have
	got  atomic.Int64 // deliveries it had
	once sync.Once
	done func() // called once: when it has had all it should, or its connection ended
}

// setWant says how many deliveries rc should have.
func (rc *receiver) setWant(n int64) {
	rc.want.Store(n)
	if rc.got.Load() >= n {
		rc.once.Do(rc.done)
	}
}

// receive reads rc's connection until it is closed, checking each sender's order. It keeps
// its counts and latencies to itself while it runs (shared counters would cost more than the
// work measured) and returns them: deliveries from each sender, when the last came, latencies.
//
// Messages start with the run's id, so that lines of other runs (which a server that keeps
// history replays to whoever joins) are not taken for this run's.
func (rc *receiver) receive(runID []byte, progress, reorder *atomic.Int64, errs *errorCounts, senders int) (from []int64, last int64, h *Hist) {
	defer rc.once.Do(rc.done)
	h = &Hist{}
	from = make([]int64, senders)
	next := make([]int64, senders)
	var got, now, unreported int64
	for {
		if !rc.lc.buffered() {
			now = 0 // the next read waits: take the time afresh after it
		}
		line, err := rc.lc.readLine()
		if err != nil {
			if !rc.lc.closing.Load() && got < rc.want.Load() {
				errs.add(fmt.Errorf("receive: %w", err))
			}
			break
		}
		payload, ours := bytes.CutPrefix(afterMark(line), runID)
		if !ours {
			continue // a join, a leave, a notice, or a line of another run
		}
		sender, seq, sent, ok := parseMsg(payload)
		if !ok || sender >= senders {
			continue
		}
		if now == 0 {
			// One clock reading per read from the socket: the lines of one read arrived together.
			now = time.Now().UnixNano()
		}
		h.Record(time.Duration(now - sent))
		if seq < next[sender] {
			reorder.Add(1)
		} else {
			next[sender] = seq + 1
		}
		from[sender]++
		got++
		last = now
		rc.got.Store(got)
		if got >= rc.want.Load() {
			rc.once.Do(rc.done)
		}
		if unreported++; unreported == 256 {
			progress.Add(unreported)
			unreported = 0
		}
	}
	progress.Add(unreported)
	return from, last, h
}

// send says cfg.Msgs numbered, timestamped lines as sender i, and returns how many it wrote.
func send(ctx context.Context, lc *lineConn, i int, cfg FanoutConfig, firstSend *atomic.Int64) (int64, error) {
	batch := 64
	if cfg.Rate > 0 {
		batch = 1
	}
	buf := make([]byte, 0, batch*48)
	start := time.Now()
	if cfg.Rate > 0 {
		// Spread the paced senders over one interval instead of having them all speak at the
		// same instants, as independent people would.
		start = start.Add(time.Duration(float64(i%cfg.Senders) / float64(cfg.Senders) / cfg.Rate * float64(time.Second)))
	}
	firstSend.CompareAndSwap(0, start.UnixNano())
	var sent int64
	for seq := 0; seq < cfg.Msgs; {
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(seq) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
		}
		buf = buf[:0]
		for j := 0; j < batch && seq < cfg.Msgs; j++ {
			buf = append(append(append(buf, "m "...), cfg.RunID...), ' ')
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(seq), 10)
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
			buf = append(buf, '\r', '\n')
			seq++
		}
		if dl, ok := ctx.Deadline(); ok {
			lc.c.SetWriteDeadline(dl)
		}
		if err := lc.write(buf); err != nil {
			return sent, err
		}
		sent = int64(seq)
	}
	return sent, nil
}

func afterMark(line []byte) []byte {
	if k := bytes.Index(line, msgMark); k >= 0 {
		return line[k+len(msgMark):]
	}
	if k := bytes.Index(line, msgMarkBytes); k >= 0 {
		return line[k+len(msgMarkBytes):]
	}
	return nil
}

// parseMsg parses "SENDER SEQ UNIXNANO".
func parseMsg(b []byte) (sender int, seq, sent int64, ok bool) {
	var nums [3]int64
	for f := range nums {
		n, i := int64(0), 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			n = n*10 + int64(b[i]-'0')
			i++
		}
		if i == 0 {
			return 0, 0, 0, false
		}
		nums[f] = n
		b = b[i:]
		if f < 2 {
			if len(b) == 0 || b[0] != ' ' {
				return 0, 0, 0, false
			}
			b = b[1:]
		}
	}
	return int(nums[0]), nums[1], nums[2], true
}
