package wsgateway

import (
	"log/slog"
	"sync"
	"time"

	"hubbub/internal/safetext"
)

// refusalLogEvery is how often refused upgrades are logged: one client can send thousands a
// second on one keep-alive connection, each with a header of its choosing.
const refusalLogEvery = 10 * time.Second

// maxLoggedOrigin bounds what is logged of an Origin header, and of a refusal's reason.
const maxLoggedOrigin = 100

// refusals logs refused upgrades at most once per refusalLogEvery, with how many there were
// since the last line.
type refusals struct {
	mu       sync.Mutex
	logged   time.Time // guarded by mu
	unlogged int       // refusals since logged; guarded by mu
}

func (r *refusals) note(log *slog.Logger, remote, origin, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unlogged++
	now := time.Now()
	if !r.logged.IsZero() && now.Sub(r.logged) < refusalLogEvery {
		return
	}
	log.Info("websocket refused", "remote", remote,
		"origin", safetext.Truncate(safetext.CleanString(origin), maxLoggedOrigin),
		"err", safetext.Truncate(safetext.CleanString(why), maxLoggedOrigin),
		"refused", r.unlogged, "logged_every", refusalLogEvery)
	r.logged, r.unlogged = now, 0
}
