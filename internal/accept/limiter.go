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

// Observer is told what happens to connections, for metrics. Its methods must be cheap and
// must not block.
type Observer interface {
	Accepted(service string)
	// Refused says a connection was turned away, for a reason among full, per_ip,
	// shutting_down and out_of_files.
	Refused(service, reason string)
	Closed(service string)
}

// Limiter counts open connections against Limits, and tells its Observer of each. One Limiter
// is shared by every service of a process, since they share its file descriptors.
type Limiter struct {
	obs Observer

	mu     sync.Mutex
	limits Limits             // guarded by mu
	open   int                // guarded by mu
	perIP  map[netip.Addr]int // open connections by address; guarded by mu
}

// NewLimiter returns a limiter that enforces limits and tells obs (which may be nil).
func NewLimiter(limits Limits, obs Observer) *Limiter {
	return &Limiter{limits: limits, obs: obs, perIP: make(map[netip.Addr]int)}
}

// SetLimits changes the limits; connections already open stay.
func (l *Limiter) SetLimits(limits Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = limits
}

// acquire counts a new connection from addr, or returns why it is refused: a reason for
// metrics and a message for the client.
func (l *Limiter) acquire(addr netip.Addr) (reason, refusal string) {
	if l == nil {
		return "", ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.limits.MaxConns > 0 && l.open >= l.limits.MaxConns:
		return "full", fmt.Sprintf("server full (%d connections), try again later", l.limits.MaxConns)
	case l.limits.MaxConnsPerIP > 0 && l.perIP[addr] >= l.limits.MaxConnsPerIP && !l.exempt(addr):
		return "per_ip", fmt.Sprintf("too many connections from your address (max %d)", l.limits.MaxConnsPerIP)
	}
	l.open++
	l.perIP[addr]++
	return "", ""
}

// Acquire counts a new connection from addr to service, or says why it is refused. It is for
// transports that do not accept through a Loop (WebSocket connections arrive through the HTTP
// server); Release uncounts what Acquire counted.
func (l *Limiter) Acquire(service string, addr netip.Addr) (refusal string) {
	reason, refusal := l.acquire(addr)
	if refusal != "" {
		l.refused(service, reason)
		return refusal
	}
	l.accepted(service)
	return ""
}

// Release uncounts a connection that Acquire admitted.
func (l *Limiter) Release(service string, addr netip.Addr) {
	l.release(addr)
	l.closed(service)
}

func (l *Limiter) accepted(service string) {
	if l != nil && l.obs != nil {
		l.obs.Accepted(service)
	}
}

func (l *Limiter) refused(service, reason string) {
	if l != nil && l.obs != nil {
		l.obs.Refused(service, reason)
	}
}

func (l *Limiter) closed(service string) {
	if l != nil && l.obs != nil {
		l.obs.Closed(service)
	}
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
