package chat

import (
	"net/netip"
	"testing"
	"time"
)

// TestLoginGuardKeepsRecentFailures fills the memory of failed logins, as an attacker with an
// IPv6 /48 can: the waits of the newest failures survive the forgetting.
func TestLoginGuardKeepsRecentFailures(t *testing.T) {
	g := newLoginGuard()
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	base := netip.MustParseAddr("2001:db8::")
	junk := func(i int) netip.Addr {
		a := base.As16()
		a[4], a[5], a[6] = byte(i>>16), byte(i>>8), byte(i)
		return netip.AddrFrom16(a)
	}
	for i := range loginMaxPairs - 1 {
		g.failed("someone", junk(i), start.Add(time.Duration(i)*time.Millisecond))
	}
	// The attacker's latest guess at alice's password, then one more junk failure, which finds
	// the table full.
	attacker := netip.MustParseAddr("2001:db8:ffff:ffff::1")
	now := start.Add(2 * time.Minute)
	g.failed("alice", attacker, now)
	g.failed("someone", junk(loginMaxPairs), now)
	if len(g.pairs) > loginMaxPairs/2+1 {
		t.Errorf("%d failures remembered after forgetting, want about half of %d", len(g.pairs), loginMaxPairs)
	}
	if w := g.wait("alice", attacker, now); w <= 0 {
		t.Error("the newest failure was forgotten with the rest: the attacker need not wait")
	}
}
