package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// ConnsConfig is the connections scenario: open and register Conns chat connections (every
// join is announced to everyone already there), hold them idle for Hold, and measure what the
// server spends on them.
type ConnsConfig struct {
	Conns int
	Hold  time.Duration
	RunID string
}

// Conns returns the connections scenario.
func Conns(cfg ConnsConfig) Scenario {
	return func(ctx context.Context, o Options) (*Result, error) {
		if cfg.Conns < 1 {
			return nil, fmt.Errorf("conns needs --conns >= 1")
		}
		d, err := newDialer(o)
		if err != nil {
			return nil, err
		}
		r := newResult("conns", o.Addr)
		var errs errorCounts
		lo, hi := o.share(cfg.Conns)
		var mu sync.Mutex
		var conns []*lineConn
		var drains sync.WaitGroup
		err = registerAll(ctx, &o, d, r, &errs, cfg.RunID, lo, hi, 64, func(_ int, lc *lineConn) {
			mu.Lock()
			conns = append(conns, lc)
			mu.Unlock()
			// Read what the server sends (the joins of everyone after us), as a client would.
			lc.c.SetReadDeadline(time.Time{})
			drains.Go(func() {
				if lc.ws == nil && !lc.irc {
					io.Copy(io.Discard, lc.r)
					return
				}
				for {
					if _, err := lc.readLine(); err != nil {
						return
					}
				}
			})
		})
		if err != nil {
			return nil, err // found before anyone registered
		}
		select {
		case <-time.After(cfg.Hold):
		case <-ctx.Done():
		}
		_, err = o.ready(ctx, nil) // the server is measured now, with every connection idle
		for _, lc := range conns {
			lc.close()
		}
		drains.Wait()
		if err != nil {
			return nil, err
		}
		errs.into(r)
		return r, nil
	}
}
