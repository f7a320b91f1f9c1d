package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// EchoConfig is the echo scenario: Conns connections each send Bytes bytes and read them back,
// over and over, for Duration.
type EchoConfig struct {
	Conns, Bytes int
	Duration     time.Duration
}

// Echo returns the echo scenario.
func Echo(cfg EchoConfig) Scenario {
	return func(ctx context.Context, o Options) (*Result, error) {
		if cfg.Conns < 1 || cfg.Bytes < 1 || cfg.Duration <= 0 {
			return nil, fmt.Errorf("echo needs --conns >= 1, --bytes >= 1 and --duration > 0")
		}
		d, err := newDialer(o)
		if err != nil {
			return nil, err
		}
		r := newResult("echo", o.Addr)
		var errs errorCounts
		lo, hi := o.share(cfg.Conns)
		var conns []io.ReadWriteCloser
		r.Counts["conns_attempted"] = int64(hi - lo)
		for range hi - lo {
			c, err := d.dial(ctx)
			if err != nil {
				errs.add(fmt.Errorf("connect: %w", err))
				continue
			}
			c.SetNoDelay(true)
			if dl, ok := ctx.Deadline(); ok {
				c.SetDeadline(dl)
			}
			conns = append(conns, c)
		}
		if _, err := o.ready(ctx, nil); err != nil {
			return nil, err
		}
		var trips atomic.Int64
		rtt := r.hist("rtt")
		start := time.Now()
		end := start.Add(cfg.Duration)
		stop := o.track("echo", 0, &trips)
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				defer c.Close()
				out := make([]byte, cfg.Bytes)
				in := make([]byte, cfg.Bytes)
				for i := range out {
					out[i] = byte('a' + i%26)
				}
				for time.Now().Before(end) && ctx.Err() == nil {
					t0 := time.Now()
					if _, err := c.Write(out); err != nil {
						errs.add(fmt.Errorf("send: %w", err))
						return
					}
					if _, err := io.ReadFull(c, in); err != nil {
						errs.add(fmt.Errorf("receive: %w", err))
						return
					}
					rtt.Record(time.Since(t0))
					trips.Add(1)
				}
			})
		}
		wg.Wait()
		stop()
		errs.into(r)
		r.Counts["round_trips"] = trips.Load()
		r.Counts["conns"] = int64(len(conns))
		r.widen("run", start.UnixNano(), time.Now().UnixNano())
		return r, nil
	}
}
