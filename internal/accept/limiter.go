package accept

import (
	"fmt"
	"net/netip"
	"sync"
)

// Limits bound how many connections are open at once. Zero means no limit.
type Limits struct {
	MaxConns      int            // connections open at once, over every service sharing the limiter
	MaxConnsPerIP int            // connections open at once from one remote address
	Exempt        []netip.Prefix // addresses MaxConnsPerIP does not apply to
}

// Limiter counts open connections against Limits. One Limiter is shared by every service of a
// process, since they share its file descriptors.
type Limiter struct {
	limits Limits

	mu    sync.Mutex
	open  int                // guarded by mu
	perIP map[netip.Addr]int // open connections by address; guarded by mu
}

// NewLimiter returns a limiter that enforces limits.
func NewLimiter(limits Limits) *Limiter {
	return &Limiter{limits: limits, perIP: make(map[netip.Addr]int)}
}

// acquire counts a new connection from addr, or returns why it is refused.
func (l *Limiter) acquire(addr netip.Addr) (refusal string) {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.limits.MaxConns > 0 && l.open >= l.limits.MaxConns:
		return fmt.Sprintf("server full (%d connections), try again later", l.limits.MaxConns)
	case l.limits.MaxConnsPerIP > 0 && l.perIP[addr] >= l.limits.MaxConnsPerIP && !l.exempt(addr):
		return fmt.Sprintf("too many connections from your address (max %d)", l.limits.MaxConnsPerIP)
	}
	l.open++
	l.perIP[addr]++
	return ""
}

// release uncounts a connection from addr that acquire admitted.
func (l *Limiter) release(addr netip.Addr) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[addr]--; l.perIP[addr] <= 0 {
		delete(l.perIP, addr)
	}
}

func (l *Limiter) exempt(addr netip.Addr) bool {
	for _, p := range l.limits.Exempt {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
