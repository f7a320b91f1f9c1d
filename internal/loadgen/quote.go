package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// QuoteConfig is the quote scenario, the original client's job: Conns connections, InFlight at
// a time; each sends a quote with no newline, reads the answer and closes.
type QuoteConfig struct {
	Conns, InFlight int
	RunID           string
}

// quotePause is how long the reader waits for more of an answer that has no line end (the
// original server sends none) before taking what it has as the whole answer. Quotes of this
// run end in '.', so only the first answer (the server's initial quote) ever waits.
const quotePause = 50 * time.Millisecond

// Quote returns the quote scenario.
func Quote(cfg QuoteConfig) Scenario {
	return func(ctx context.Context, o Options) (*Result, error) {
		if cfg.Conns < 1 || cfg.InFlight < 1 {
			return nil, fmt.Errorf("quote needs --conns >= 1 and --in-flight >= 1")
		}
		d, err := newDialer(o)
		if err != nil {
			return nil, err
		}
		r := newResult("quote", o.Addr)
		var errs errorCounts
		lo, hi := o.share(cfg.Conns)
		inFlight := max(1, cfg.InFlight/max(o.Parts, 1))
		if _, err := o.ready(ctx, nil); err != nil {
			return nil, err
		}
		var (
			mu                 sync.Mutex
			answers            []string
			sent, done         atomic.Int64
			first, last        atomic.Int64
			connectLat, ansLat = r.hist("connect"), r.hist("answer")
		)
		stop := o.track("quote", int64(hi-lo), &done)
		forEach(ctx, lo, hi, inFlight, &errs, func(i int) {
			t0 := time.Now()
			first.CompareAndSwap(0, t0.UnixNano())
			c, err := d.dial(ctx)
			if err != nil {
				errs.add(fmt.Errorf("connect: %w", err))
				return
			}
			defer c.Close()
			t1 := time.Now()
			connectLat.Record(t1.Sub(t0))
			if dl, ok := ctx.Deadline(); ok {
				c.SetDeadline(dl)
			}
			if _, err := fmt.Fprintf(c, "q%s-%d.", cfg.RunID, i); err != nil {
				errs.add(fmt.Errorf("send: %w", err))
				return
			}
			sent.Add(1)
			answer, err := readAnswer(ctx, c)
			if err != nil {
				errs.add(fmt.Errorf("answer: %w", err))
				return
			}
			now := time.Now()
			ansLat.Record(now.Sub(t1))
			storeMax(&last, now.UnixNano())
			mu.Lock()
			answers = append(answers, answer)
			mu.Unlock()
			done.Add(1)
		})
		stop()
		errs.into(r)
		r.Counts["quotes_attempted"] = int64(hi - lo)
		r.Counts["quotes_sent"] = sent.Load()
		r.Counts["answers"] = done.Load()
		r.Answers = answers
		r.widen("run", first.Load(), last.Load())
		return r, nil
	}
}

// readAnswer reads one answer: up to a line end, or a quote of this run (ending in '.'), or
// whatever came before a pause.
func readAnswer(ctx context.Context, c interface {
	Read([]byte) (int, error)
	SetReadDeadline(time.Time) error
}) (string, error) {
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if i := bytes.IndexByte(got, '\n'); i >= 0 {
			return string(bytes.TrimRight(got[:i], "\r")), nil
		}
		if len(got) > 0 && got[len(got)-1] == '.' {
			return string(got), nil
		}
		if err != nil {
			if len(got) > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				return string(got), nil // the pause ended the answer
			}
			return "", err
		}
		if len(got) > 0 {
			c.SetReadDeadline(time.Now().Add(quotePause))
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
}

// checkQuotes counts, over every answer, quotes of this run handed out more than once and
// quotes never handed out (besides the one the server still holds).
func checkQuotes(r *Result) {
	if r.Scenario != "quote" {
		return
	}
	seen := map[string]int{}
	for _, a := range r.Answers {
		seen[a]++
	}
	var dup, ours int64
	for q, n := range seen {
		if len(q) > 1 && q[0] == 'q' && q[len(q)-1] == '.' {
			ours++
		}
		if n > 1 {
			dup += int64(n - 1)
		}
	}
	r.Counts["duplicate_answers"] = dup
	// Every quote sent is answered to a later client, but the last one stays with the server.
	r.Counts["never_handed_out"] = max(0, r.Counts["quotes_sent"]-ours-1)
	r.Answers = nil
}
