package chat

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The bans in force: names (with their look-alikes) and networks, kept in memory under
// hub.mu and, through the BanList, across restarts.

// parsePrefix reads what /ban and /unban are given when it looks like an address or a
// network rather than a name: digits and dots with a dot ("10.0.0.7"), or anything with ':' or
// '/' ("10.0.0.0/24", "2001:db8::/48"). isAddr reports whether it looks like one; err says,
// for the user, why one that does is not valid: such a thing is never taken for a name, so
// that a typo in a network bans nobody by mistake.
func parsePrefix(s string) (p netip.Prefix, isAddr bool, err error) {
	if !strings.ContainsAny(s, ":/") && (!strings.Contains(s, ".") || strings.Trim(s, "0123456789.") != "") {
		return netip.Prefix{}, false, nil
	}
	bad := fmt.Errorf("%s is not an address or a network: try 203.0.113.7, 203.0.113.0/24 or 2001:db8::/48", clean(s, 64))
	if strings.Contains(s, "/") {
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, true, bad
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, true, bad
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normalPrefix(p), true, nil
}

// normalPrefix masks p, and makes an IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) the IPv4
// network it stands for: clients' addresses are compared unmapped.
func normalPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// bans are the names and addresses refused. A zero until means until unbanned or restarted.
type bans struct {
	names []nameBan
	addrs []addrBan
}

type nameBan struct {
	name  Name
	until time.Time
}

type addrBan struct {
	prefix netip.Prefix
	until  time.Time
}

// saveBan and deleteBan keep bans in history, when there is one.
func (h *Hub) saveBan(b Ban) {
	if h.cfg.Bans != nil {
		h.cfg.Bans.SaveBan(b)
	}
}

func (h *Hub) deleteBan(b Ban) {
	if h.cfg.Bans != nil {
		h.cfg.Bans.DeleteBan(b)
	}
}

func live(until, now time.Time) bool { return until.IsZero() || now.Before(until) }

func (b *bans) nameBannedLocked(n Name, now time.Time) bool {
	for _, x := range b.names {
		if x.name.SameAs(n) && live(x.until, now) {
			return true
		}
	}
	return false
}

func (b *bans) addrBannedLocked(a netip.Addr, now time.Time) bool {
	a = a.Unmap()
	for _, x := range b.addrs {
		if x.prefix.Contains(a) && live(x.until, now) {
			return true
		}
	}
	return false
}

func (b *bans) addNameLocked(n Name, until time.Time) {
	b.names = slices.DeleteFunc(b.names, func(x nameBan) bool { return x.name.SameAs(n) })
	b.names = append(b.names, nameBan{n, until})
}

func (b *bans) addAddrLocked(p netip.Prefix, until time.Time) {
	p = normalPrefix(p) // as kept by an older version, perhaps
	b.removeAddrLocked(p)
	b.addrs = append(b.addrs, addrBan{p, until})
}

// removeNameLocked lifts the ban on n (or a look-alike) and returns the name banned.
func (b *bans) removeNameLocked(n Name) (Name, bool) {
	i := slices.IndexFunc(b.names, func(x nameBan) bool { return x.name.SameAs(n) })
	if i < 0 {
		return Name{}, false
	}
	banned := b.names[i].name
	b.names = slices.Delete(b.names, i, i+1)
	return banned, true
}

func (b *bans) removeAddrLocked(p netip.Prefix) bool {
	before := len(b.addrs)
	b.addrs = slices.DeleteFunc(b.addrs, func(x addrBan) bool { return x.prefix == p })
	return len(b.addrs) < before
}

// listLocked returns the bans in force, names first, dropping those that ended.
func (b *bans) listLocked(now time.Time) []Ban {
	b.names = slices.DeleteFunc(b.names, func(x nameBan) bool { return !live(x.until, now) })
	b.addrs = slices.DeleteFunc(b.addrs, func(x addrBan) bool { return !live(x.until, now) })
	out := make([]Ban, 0, len(b.names)+len(b.addrs))
	for _, x := range b.names {
		out = append(out, Ban{Name: x.name.Display, Until: x.until})
	}
	for _, x := range b.addrs {
		out = append(out, Ban{Address: x.prefix, Until: x.until})
	}
	return out
}

func ends(until, now time.Time) string {
	if until.IsZero() {
		return " until lifted"
	}
	return fmt.Sprintf(" for %v more", until.Sub(now).Round(time.Second))
}
