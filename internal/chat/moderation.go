package chat

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Moderation bounds.
const (
	defaultMute     = 10 * time.Minute // /mute with no duration
	longestDuration = 365 * 24 * time.Hour
)

// targetLocked finds the member a moderation command names, telling the user when there is
// none or when it is the user.
func (s *Session) targetLocked(name string) (*member, bool) {
	who, ok := s.hub.findLocked(name)
	switch {
	case !ok:
		s.noticef("no one called %s is online", clean(name, MaxNameLen*4))
		return nil, false
	case who == s.member:
		s.notice("not on yourself")
		return nil, false
	}
	return who, true
}

// cmdKick puts someone out of the current room: its owner and operators may. Out of the lobby
// means out of the chat, which only operators may do.
func (s *Session) cmdKick(args string) error {
	name, reason := firstWord(args)
	if name == "" {
		return s.usage("kick")
	}
	s.tell(s.Kick("", name, reason))
	return nil // the kicker is in the room, and hears who left it and why
}

// Kick puts the member called name out of the room called room ("": the device's current
// one), for reason (may be empty): the room's owner and operators may, and only operators out
// of the lobby, which is out of the chat.
func (s *Session) Kick(room, name, reason string) error {
	reason = clean(reason, maxReason)
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(room)
	if err != nil {
		return err
	}
	if !s.oper && (r.owner != s.member || r == h.lobby) {
		return fail(CodeNotAllowed, "only operators and the owner of a room kick, and only operators from %s", h.lobby.name.Display)
	}
	who, ok := h.findLocked(name)
	switch {
	case !ok:
		return fail(CodeNoSuchName, "no one called %s is online", clean(name, MaxNameLen*4))
	case who == s.member:
		return fail(CodeNotOnSelf, "not on yourself")
	case who.oper && !s.oper:
		return fail(CodeNotAllowed, "operators cannot be kicked")
	case !slices.Contains(who.rooms, r):
		return fail(CodeTheyNotInRoom, "%s is not in %s", who.name.Display, r.name.Display)
	}
	why := "kicked by " + s.name.Display
	because := ""
	if reason != "" {
		because = ": " + reason
	}
	h.log.Info("kick", "by", s.name.Display, "name", who.name.Display, "room", r.name.Display, "reason", reason)
	if r == h.lobby {
		h.dropLocked(who, DropKicked, why+because, "you were "+why+because)
		return nil
	}
	h.partLocked(who, r, &Message{Kind: KindKick, Room: r.name.Display, From: who.name.Display, To: s.name.Display, Text: reason},
		why+because, nil)
	// Said once the member is out, so that a client showing one room at a time shows it in
	// the room the member is now in.
	who.tellf("you were kicked from %s by %s%s", r.name.Display, s.name.Display, because)
	return nil
}

// dropLocked disconnects member who: it is told notice, and everyone who shares a room with
// it hears that it left for why.
func (h *Hub) dropLocked(who *member, reason DropReason, why, notice string) {
	devices := who.list()
	who.tell(notice)
	h.leaveAllLocked(who, why)
	for _, d := range devices {
		d.client.Drop(reason, notice)
	}
}

// dropDeviceLocked disconnects one device of a member, telling it notice; the member leaves
// only if it was its last device.
func (h *Hub) dropDeviceLocked(d *Session, reason DropReason, why, notice string) {
	d.notice(notice)
	h.unregisterLocked(d, why)
	d.client.Drop(reason, notice)
}

// requireOperLocked tells a user who is not an operator that the command is not theirs.
func (s *Session) requireOperLocked() bool {
	if !s.oper {
		s.notice("only operators can do that: /oper PASSWORD")
	}
	return s.oper
}

// badDuration tells the user that arg is not a duration a moderation command takes.
func (s *Session) badDuration(arg string) error {
	s.noticef("%s is not a duration: say how long with a unit, such as 30s, 10m or 2h (at most a year)", clean(arg, 32))
	return nil
}

// parseDuration reads an optional duration argument ("10m", "2h"); "" gives def.
func parseDuration(arg string, def time.Duration) (time.Duration, bool) {
	if arg == "" {
		return def, true
	}
	d, err := time.ParseDuration(arg)
	if err != nil || d <= 0 || d > longestDuration {
		return 0, false
	}
	return d, true
}

func (s *Session) cmdMute(args string) error {
	name, rest := firstWord(args)
	d, ok := parseDuration(rest, defaultMute)
	switch {
	case name == "":
		return s.usage("mute")
	case !ok:
		return s.badDuration(rest)
	}
	s.onOperTarget(name, func(who *member) {
		h := s.hub
		until := h.now().Add(d)
		who.mutedUntil.Store(until.UnixNano())
		if who.account != "" {
			if h.accountMutes == nil {
				h.accountMutes = make(map[string]time.Time)
			}
			h.accountMutes[who.account] = until
		}
		who.tellf("an operator muted you for %v", d)
		s.noticef("muted %s for %v", who.name.Display, d)
		h.log.Info("mute", "by", s.name.Display, "name", who.name.Display, "for", d)
	})
	return nil
}

func (s *Session) cmdUnmute(args string) error {
	if args == "" {
		return s.usage("unmute")
	}
	s.onOperTarget(args, func(who *member) {
		who.mutedUntil.Store(0)
		delete(s.hub.accountMutes, who.account)
		who.tell("you may talk again")
		s.noticef("unmuted %s", who.name.Display)
	})
	return nil
}

// onOperTarget runs act, under the hub's lock, on the member called name, if s is an operator
// and there is such a member; otherwise it tells s why not.
func (s *Session) onOperTarget(name string, act func(who *member)) {
	h := s.hub
	if !h.lockLive(s) {
		return
	}
	defer h.mu.Unlock()
	if !s.requireOperLocked() {
		return
	}
	if who, ok := s.targetLocked(name); ok {
		act(who)
	}
}

// cmdBan refuses a name, or an address or network, until the ban ends. Bans are kept in
// history, and so last across restarts, unless the server keeps no history. Whoever it matches
// is disconnected.
func (s *Session) cmdBan(args string) error {
	h := s.hub
	target, rest := firstWord(args)
	d, ok := parseDuration(rest, 0)
	if !ok {
		return s.badDuration(rest)
	}
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	if !s.requireOperLocked() {
		return nil
	}
	now := h.now()
	if target == "" {
		list := h.bans.listLocked(now)
		switch len(list) {
		case 0:
			s.notice("no bans")
		case 1:
			s.notice("1 ban:")
		default:
			s.noticef("%d bans:", len(list))
		}
		for _, line := range list {
			s.notice("  " + line)
		}
		return nil
	}
	var until time.Time
	if d > 0 {
		until = now.Add(d)
	}
	how := "until /unban"
	if h.cfg.Bans == nil {
		how = "until /unban or the server restarts"
	}
	if d > 0 {
		how = "for " + d.String()
	}
	prefix, isAddr, err := parsePrefix(target)
	if err != nil {
		s.notice(err.Error())
		return nil
	}
	if isAddr {
		if prefix.Contains(s.remote) {
			s.notice("that would ban you")
			return nil
		}
		h.bans.addAddrLocked(prefix, until)
		h.saveBan(Ban{Address: prefix, Until: until})
		s.noticef("banned %s %s", prefix, how)
		h.log.Info("ban", "by", s.name.Display, "addr", prefix.String(), "for", how)
		for _, who := range h.names.values() {
			for _, d := range who.list() {
				if prefix.Contains(d.remote) && d != s {
					h.dropDeviceLocked(d, DropBanned, "banned", "you are banned from this server")
				}
			}
		}
		return nil
	}
	n, err := ParseName(target)
	if err != nil {
		return s.usage("ban")
	}
	if n.SameAs(s.name) {
		s.notice("not on yourself")
		return nil
	}
	h.bans.addNameLocked(n, until)
	h.saveBan(Ban{Name: n.Display, Until: until})
	s.noticef("banned the name %s %s", n.Display, how)
	h.log.Info("ban", "by", s.name.Display, "name", n.Display, "for", how)
	if who, online := h.names.find(n); online {
		// A name is worn; an account is who someone is: banning the name of someone logged
		// in bans their account too, or they would be back under it at once.
		if who.account != "" {
			if an, err := ParseName(who.account); err == nil && !an.SameAs(n) && !an.SameAs(s.name) {
				h.bans.addNameLocked(an, until)
				h.saveBan(Ban{Name: an.Display, Until: until})
				s.noticef("banned the account %s %s", an.Display, how)
			}
		}
		h.dropLocked(who, DropBanned, "banned", "you are banned from this server")
	}
	return nil
}

func (s *Session) cmdUnban(args string) error {
	if args == "" || strings.Contains(args, " ") {
		return s.usage("unban")
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	if !s.requireOperLocked() {
		return nil
	}
	prefix, isAddr, err := parsePrefix(args)
	if err != nil {
		s.notice(err.Error())
		return nil
	}
	if isAddr {
		if !h.bans.removeAddrLocked(prefix) {
			s.noticef("%s is not banned", prefix)
			return nil
		}
		h.deleteBan(Ban{Address: prefix})
		s.noticef("unbanned %s", prefix)
		return nil
	}
	n, err := ParseName(args)
	banned, ok := h.bans.removeNameLocked(n)
	if err != nil || !ok {
		s.noticef("%s is not banned", clean(args, MaxNameLen*4))
		return nil
	}
	h.deleteBan(Ban{Name: banned.Display})
	s.noticef("unbanned the name %s", banned.Display)
	return nil
}

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

// listLocked describes the bans in force, dropping those that ended.
func (b *bans) listLocked(now time.Time) []string {
	b.names = slices.DeleteFunc(b.names, func(x nameBan) bool { return !live(x.until, now) })
	b.addrs = slices.DeleteFunc(b.addrs, func(x addrBan) bool { return !live(x.until, now) })
	var out []string
	for _, x := range b.names {
		out = append(out, "name "+x.name.Display+ends(x.until, now))
	}
	for _, x := range b.addrs {
		out = append(out, "address "+x.prefix.String()+ends(x.until, now))
	}
	return out
}

func ends(until, now time.Time) string {
	if until.IsZero() {
		return " until lifted"
	}
	return fmt.Sprintf(" for %v more", until.Sub(now).Round(time.Second))
}
