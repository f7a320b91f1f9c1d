// Package memreturn gives back to the kernel the memory a burst of work left behind (a join
// storm of thousands of users), once the process has gone quiet.
//
// Go's collector runs when the heap grows, so a server that falls idle after a storm does not
// collect at all for the two minutes until the runtime forces a collection, and even then it
// keeps the heap's pages mapped up to about twice what is live: the storm's garbage and the
// pages it freed stay in the process's resident memory, which is what an operator (and the
// per-connection figure of docs/benchmarks.md) sees. A Returner watches how fast the process
// allocates, and when a burst of allocation is followed by a quiet spell it collects twice
// (the first collection empties sync.Pools into their victim caches, the second drops those)
// and returns every free page (debug.FreeOSMemory). It never runs while the process is busy,
// so the collections it forces cost a quiet process, not a loaded one.
package memreturn

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Config says when memory is given back.
type Config struct {
	// Quiet is how long the process must allocate less than QuietRate before its memory is
	// returned; 0 turns returning off.
	Quiet time.Duration
	// QuietRate is the allocation rate, in bytes per second, below which the process counts
	// as quiet.
	QuietRate uint64
	// Burst is how many bytes the process must have allocated since the last return (or its
	// start) for a return to be worth its collections.
	Burst uint64
	// MinInterval is the least time between two returns.
	MinInterval time.Duration
	// Tick is how often the allocation rate is looked at.
	Tick time.Duration
}

// DefaultConfig returns the settings a server runs with: a burst of 16 MiB (a join storm of
// about 2,000 users) followed by 3 s of allocating less than 1 MiB/s (10,000 idle IRC users
// pinged every 30 s allocate a few tens of KiB/s), at most one return every 30 s. A server
// that chats steadily under 1 MiB/s pays two collections at most every 30 s for it, which its
// own allocation would soon have cost anyway.
func DefaultConfig() Config {
	return Config{
		Quiet:       3 * time.Second,
		QuietRate:   1 << 20,
		Burst:       16 << 20,
		MinInterval: 30 * time.Second,
		Tick:        time.Second,
	}
}

// A Returner watches the process's allocation and returns memory after each burst (see the
// package comment). It runs one goroutine, from Start until Stop.
type Returner struct {
	cfg Config
	log *slog.Logger

	looks   atomic.Int64 // how many times the allocation rate was looked at
	returns atomic.Int64 // how many times memory was returned

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Start starts watching; Stop stops it. With cfg.Quiet 0 nothing is started, and the Returner
// only answers Returns (with 0).
func Start(cfg Config, log *slog.Logger) *Returner {
	r := &Returner{cfg: cfg, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.Quiet <= 0 {
		close(r.done)
		return r
	}
	if r.cfg.Tick <= 0 {
		r.cfg.Tick = DefaultConfig().Tick
	}
	go r.run()
	return r
}

// Stop stops watching and waits for the goroutine to end (a return under way finishes first).
// It may be called more than once.
func (r *Returner) Stop() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}

// Returns reports how many times memory was returned.
func (r *Returner) Returns() int64 { return r.returns.Load() }

// Looks reports how many times the allocation rate was looked at.
func (r *Returner) Looks() int64 { return r.looks.Load() }

func (r *Returner) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Tick)
	defer t.Stop()
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	var (
		now        = time.Now()
		last       = allocated() // allocated at the last look
		lastAt     = now
		since      = last // allocated at the last return
		quietSince = now  // the quiet spell began; zero: the process is busy
		returnedAt time.Time
	)
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		a, now := allocated(), time.Now()
		r.looks.Add(1)
		elapsed := now.Sub(lastAt).Seconds()
		rate := float64(a-last) / max(elapsed, 1e-3)
		last, lastAt = a, now
		if rate >= float64(r.cfg.QuietRate) {
			quietSince = time.Time{}
			continue
		}
		if quietSince.IsZero() {
			quietSince = now
		}
		if now.Sub(quietSince) < r.cfg.Quiet || a-since < r.cfg.Burst ||
			!returnedAt.IsZero() && now.Sub(returnedAt) < r.cfg.MinInterval {
			continue
		}
		start := time.Now()
		runtime.GC()
		debug.FreeOSMemory()
		returnedAt = time.Now()
		burst := a - since
		since = allocated()
		last, lastAt = since, returnedAt
		r.returns.Add(1)
		if r.log != nil {
			r.log.Debug("memory returned after a burst", "burst_mib", burst>>20, "took", returnedAt.Sub(start))
		}
	}
}
