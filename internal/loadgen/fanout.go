package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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
			conns    = map[int]*lineConn{}
			received atomic.Int64
			lastRecv int64 // guarded by mu
			lost     atomic.Int64
			reorder  atomic.Int64
			readers  sync.WaitGroup
			latency  = r.hist("delivery")
		)
		total := int64(cfg.Senders * cfg.Msgs)
		expectedBy := func(i int) int64 {
			if i < cfg.Senders {
				return total - int64(cfg.Msgs)
			}
			return total
		}
		var expected int64
		for i := lo; i < hi; i++ {
			expected += expectedBy(i)
		}
		registerAll(ctx, &o, d, r, &errs, cfg.RunID, lo, hi, 64, func(i int, lc *lineConn) {
			mu.Lock()
			conns[i] = lc
			mu.Unlock()
			readers.Go(func() {
				lc.c.SetReadDeadline(time.Time{})
				if dl, ok := ctx.Deadline(); ok {
					lc.c.SetReadDeadline(dl)
				}
				got, last, h := receive(lc, []byte(cfg.RunID+" "), expectedBy(i), cfg.Senders, &received, &reorder, &errs)
				lost.Add(expectedBy(i) - got)
				mu.Lock()
				latency.Merge(h)
				if last > lastRecv {
					lastRecv = last
				}
				mu.Unlock()
			})
		})
		if err := o.ready(ctx); err != nil {
			return nil, err
		}

		stop := o.track("fanout", expected, &received)
		var firstSend atomic.Int64
		var senders sync.WaitGroup
		for i := lo; i < min(hi, cfg.Senders); i++ {
			lc := conns[i]
			if lc == nil {
				continue
			}
			senders.Go(func() {
				if err := send(ctx, lc, i, cfg, &firstSend); err != nil {
					errs.add(fmt.Errorf("send: %w", err))
				}
			})
		}
		senders.Wait()
		done := make(chan struct{})
		go func() {
			readers.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			errs.add(fmt.Errorf("waiting for deliveries: %w", ctx.Err()))
		}
		for _, lc := range conns {
			lc.close()
		}
		<-done
		stop()

		errs.into(r)
		r.Counts["deliveries"] = received.Load()
		r.Counts["expected"] = expected
		r.Counts["lost"] = lost.Load()
		r.Counts["reordered"] = reorder.Load()
		r.widen("run", firstSend.Load(), lastRecv)
		return r, nil
	}
}

// receive reads lc until it has want messages or the connection ends, checking each sender's
// order. It keeps its counts and latencies to itself while it runs (shared counters would
// cost more than the work measured) and returns them: messages, when the last came, latencies.
//
// Messages start with the run's id, so that lines of other runs (which a server that keeps
// history replays to whoever joins) are not taken for this run's.
func receive(lc *lineConn, runID []byte, want int64, senders int, progress, reorder *atomic.Int64, errs *errorCounts) (got, last int64, h *Hist) {
	h = &Hist{}
	next := make([]int64, senders)
	var now, unreported int64
	for got < want {
		if !lc.buffered() {
			now = 0 // the next read waits: take the time afresh after it
		}
		line, err := lc.readLine()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) { // closed by us, at the timeout
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
		got++
		last = now
		if unreported++; unreported == 256 {
			progress.Add(unreported)
			unreported = 0
		}
	}
	progress.Add(unreported)
	return got, last, h
}

// send says cfg.Msgs numbered, timestamped lines as sender i.
func send(ctx context.Context, lc *lineConn, i int, cfg FanoutConfig, firstSend *atomic.Int64) error {
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
	for seq := 0; seq < cfg.Msgs; {
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(seq) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return ctx.Err()
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
			return err
		}
	}
	return nil
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
