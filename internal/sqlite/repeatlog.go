package sqlite

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// repeatLog logs a failure that comes back at every tick (with the disk full, every
// checkpoint fails) at most once per interval, with how many times it happened since it was
// last logged: the log says what is wrong without drowning what else it says.
type repeatLog struct {
	log       *slog.Logger
	level     slog.Level
	msg       string // logged on failure
	recovered string // logged when it works again after failing
	every     time.Duration

	mu       sync.Mutex
	failing  bool      // guarded by mu
	logged   time.Time // when a failure was last logged; guarded by mu
	unlogged int       // failures since; guarded by mu
}

// fail notes one failure, and logs it unless one was logged less than an interval ago.
func (r *repeatLog) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.failing = true
	r.unlogged++
	if !r.logged.IsZero() && now.Sub(r.logged) < r.every {
		return
	}
	r.log.Log(context.Background(), r.level, r.msg, "err", err, "failures", r.unlogged, "logged_every", r.every)
	r.logged, r.unlogged = now, 0
}

// ok notes a success: after failures, it is logged once, with the failures not yet logged.
func (r *repeatLog) ok() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.failing {
		return
	}
	r.log.Info(r.recovered, "failures_not_logged", r.unlogged)
	r.failing, r.logged, r.unlogged = false, time.Time{}, 0
}
