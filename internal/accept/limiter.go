package accept

import (
	"fmt"
	"net/netip"
	"sync"
)

// DefaultIPv6Prefix is how many leading bits of an IPv6 address name one client for
// MaxConnsPerIP: a /64 is what one subscriber or one host usually gets, so counting each
// address apart would give one host 2^64 quotas.
const DefaultIPv6Prefix = 64

// Limits bound how many connections are open at once. Zero means no limit.
type Limits struct {
	MaxConns      int            // connections open at once, over every service sharing the limiter
	MaxConnsPerIP int            // connections open at once from one remote address
	Exempt        []netip.Prefix // addresses MaxConnsPerIP does not apply to
	// IPv6Prefix is the length of the IPv6 prefix that counts as one address for
	// MaxConnsPerIP (IPv4 addresses count one by one); 0 means DefaultIPv6Prefix, 128 each
	// address apart.
	IPv6Prefix int
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
	perIP  map[netip.Addr]int // open connections by client (see clientKey); guarded by mu
}

// NewLimiter returns a limiter that enforces limits and tells obs (which may be nil).
func NewLimiter(limits Limits, obs Observer) *Limiter {
	return &Limiter{limits: limits, obs: obs, perIP: make(map[netip.Addr]int)}
}

// SetLimits changes the limits; connections already open stay, and are uncounted under the
// client they were counted as even if IPv6Prefix changed.
func (l *Limiter) SetLimits(limits Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits = limits
}

// clientKey is the address that stands for addr's client: addr itself for IPv4, its prefix of
// the configured length for IPv6. l.mu must be held.
func (l *Limiter) clientKeyLocked(addr netip.Addr) netip.Addr {
	if !addr.Is6() || addr.Is4In6() {
		return addr
	}
	bits := l.limits.IPv6Prefix
	if bits <= 0 || bits > 128 {
		bits = DefaultIPv6Prefix
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return addr
	}
	return p.Addr()
}

// acquire counts a new connection from addr, or returns why it is refused: a reason for
// metrics and a message for the client. What it counted is uncounted by release(key).
func (l *Limiter) acquire(addr netip.Addr) (key netip.Addr, reason, refusal string) {
	if l == nil {
		return addr, "", ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	key = l.clientKeyLocked(addr)
	switch {
	case l.limits.MaxConns > 0 && l.open >= l.limits.MaxConns:
		return key, "full", fmt.Sprintf("server full (%d connections), try again later", l.limits.MaxConns)
	case l.limits.MaxConnsPerIP > 0 && l.perIP[key] >= l.limits.MaxConnsPerIP && !l.exempt(addr):
		return key, "per_ip", fmt.Sprintf("too many connections from your address (max %d)", l.limits.MaxConnsPerIP)
	}
	l.open++
	l.perIP[key]++
	return key, "", ""
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

// release uncounts a connection that acquire counted under key.
func (l *Limiter) release(key netip.Addr) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
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
