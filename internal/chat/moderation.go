package chat

import (
	"strings"
	"time"
)

// Moderation bounds.
const (
	defaultMute     = 10 * time.Minute // /mute with no duration
	longestDuration = 365 * 24 * time.Hour
)

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
	case !who.inRoom(r):
		return fail(CodeTheyNotInRoom, "%s is not in %s", who.name().Display, r.name.Display)
	}
	h.log.Info("kick", "by", s.name().Display, "name", who.name().Display, "room", r.name.Display, "reason", reason)
	o := &Order{Kind: OrderKick, Member: who.id, Room: r.key(), By: s.name().Display, Reason: reason}
	if r == h.lobby {
		o.Room = "" // out of the chat
	}
	h.publishOrderLocked(s, who.id, o)
	return nil
}

// dropLocked disconnects member who: it is told notice, and everyone who shares a room with
// it hears that it left for why.
func (h *Hub) dropLocked(who *member, reason DropReason, why, notice string) {
	devices := who.list()
	who.narrate(notice) // Drop says it too
	h.leaveAllLocked(who, why, reason == DropKicked || reason == DropBanned)
	for _, d := range devices {
		d.client.Drop(reason, notice)
	}
}

// dropDeviceLocked disconnects one device of a member, telling it notice; the member leaves
// only if it was its last device.
func (h *Hub) dropDeviceLocked(d *Session, reason DropReason, why, notice string) {
	d.narrate(notice) // Drop says it too
	h.unregisterAsLocked(d, why, reason == DropKicked || reason == DropBanned)
	d.client.Drop(reason, notice)
}

// operOnlyLocked fails unless the member is an operator.
func (s *Session) operOnlyLocked() error {
	if !s.oper {
		return fail(CodeNotAllowed, "only operators can do that: /oper PASSWORD")
	}
	return nil
}

// targetLocked finds the member a moderation command names, failing when there is none or
// when it is the member.
func (s *Session) targetLocked(name string) (*member, error) {
	who, ok := s.hub.findLocked(name)
	switch {
	case !ok:
		return nil, fail(CodeNoSuchName, "no one called %s is online", clean(name, MaxNameLen*4))
	case who == s.member:
		return nil, fail(CodeNotOnSelf, "not on yourself")
	}
	return who, nil
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
	if err != nil || !goodDuration(d) {
		return 0, false
	}
	return d, true
}

func goodDuration(d time.Duration) bool { return d > 0 && d <= longestDuration }

func durationError(d time.Duration) error {
	return fail(CodeBadValue, "%v is not a duration that can be given: from a second to a year", d)
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
	if who, err := s.mute(name, d); !s.tell(err) && who != "" {
		s.noticef("muted %s for %v", who, d)
	}
	return nil
}

// Mute refuses the lines, actions, private messages, name changes, topics and away texts of
// the member called name for d (from a second to a year), on all its devices, and of its
// account should it come back within d. The member is told; operators may.
func (s *Session) Mute(name string, d time.Duration) error {
	_, err := s.mute(name, d)
	return err
}

// mute is Mute, returning the name of the member muted.
func (s *Session) mute(name string, d time.Duration) (string, error) {
	switch {
	case name == "":
		return "", fail(CodeNeedArgs, "whom to mute?")
	case !goodDuration(d):
		return "", durationError(d)
	}
	h := s.hub
	if !h.lockLive(s) {
		return "", nil
	}
	defer h.mu.Unlock()
	if err := s.operOnlyLocked(); err != nil {
		return "", err
	}
	who, err := s.targetLocked(name)
	if err != nil {
		return "", err
	}
	o := &Order{Kind: OrderMute, Member: who.id, By: s.name().Display, For: d, Account: who.account, Until: h.now().Add(d)}
	if o.Account != "" {
		h.muteAccountLocked(o.Account, o.Until) // here at once; the order tells every node
		if h.cfg.Mutes != nil {
			h.cfg.Mutes.SaveMute(o.Account, o.Until) // and nodes started later
		}
	}
	h.publishOrderLocked(s, 0, o)
	h.log.Info("mute", "by", s.name().Display, "name", who.name().Display, "for", d)
	return who.name().Display, nil
}

func (s *Session) cmdUnmute(args string) error {
	if args == "" {
		return s.usage("unmute")
	}
	if who, err := s.unmute(args); !s.tell(err) && who != "" {
		s.noticef("unmuted %s", who)
	}
	return nil
}

// Unmute lets the member called name talk again, and tells it so; operators may.
func (s *Session) Unmute(name string) error {
	_, err := s.unmute(name)
	return err
}

// unmute is Unmute, returning the name of the member unmuted.
func (s *Session) unmute(name string) (string, error) {
	h := s.hub
	if !h.lockLive(s) {
		return "", nil
	}
	defer h.mu.Unlock()
	if err := s.operOnlyLocked(); err != nil {
		return "", err
	}
	who, err := s.targetLocked(name)
	if err != nil {
		return "", err
	}
	delete(h.accountMutes, who.account)
	if h.cfg.Mutes != nil && who.account != "" {
		h.cfg.Mutes.DeleteMute(who.account)
	}
	h.publishOrderLocked(s, 0, &Order{Kind: OrderUnmute, Member: who.id, By: s.name().Display, Account: who.account})
	return who.name().Display, nil
}

// cmdBan refuses a name, or an address or network, until the ban ends, or lists the bans.
func (s *Session) cmdBan(args string) error {
	h := s.hub
	target, rest := firstWord(args)
	d, ok := parseDuration(rest, 0)
	if !ok {
		return s.badDuration(rest)
	}
	if target == "" {
		list, err := s.Bans()
		if s.tell(err) || list == nil {
			return nil
		}
		switch len(list) {
		case 0:
			s.notice("no bans")
		case 1:
			s.notice("1 ban:")
		default:
			s.noticef("%d bans:", len(list))
		}
		now := h.now()
		for _, b := range list {
			if b.Name != "" {
				s.notice("  name " + b.Name + ends(b.Until, now))
			} else {
				s.notice("  address " + b.Address.String() + ends(b.Until, now))
			}
		}
		return nil
	}
	how := "until /unban"
	if h.cfg.Bans == nil {
		how = "until /unban or the server restarts"
	}
	if d > 0 {
		how = "for " + d.String()
	}
	err := s.ban(target, d, func(b Ban, account bool) {
		switch {
		case b.Name == "":
			s.noticef("banned %s %s", b.Address, how)
		case account:
			s.noticef("banned the account %s %s", b.Name, how)
		default:
			s.noticef("banned the name %s %s", b.Name, how)
		}
	})
	if is(err, CodeBadName) {
		return s.usage("ban")
	}
	s.tell(err)
	return nil
}

// Bans lists the bans in force, names first; operators may. It is nil, with no error, for a
// device no longer in the chat.
func (s *Session) Bans() ([]Ban, error) {
	h := s.hub
	if !h.lockLive(s) {
		return nil, nil
	}
	defer h.mu.Unlock()
	if err := s.operOnlyLocked(); err != nil {
		return nil, err
	}
	return h.bans.listLocked(h.now()), nil
}

// Ban refuses target, a name (and its look-alikes) or an address or network ("203.0.113.7",
// "2001:db8::/48"), for d, or until lifted when d is 0; operators may. Bans are kept across
// restarts when the server has a BanList. Whoever it matches is disconnected, and when a name
// banned is worn by someone logged in, their account's name is banned too.
func (s *Session) Ban(target string, d time.Duration) error {
	return s.ban(target, d, nil)
}

// ban is Ban, calling banned (when not nil) for each ban made, under the hub's lock and before
// anyone is disconnected: account says the ban is of the account of the one who wore the name.
func (s *Session) ban(target string, d time.Duration, banned func(b Ban, account bool)) error {
	switch {
	case target == "":
		return fail(CodeNeedArgs, "what to ban?")
	case d != 0 && !goodDuration(d):
		return durationError(d)
	}
	if banned == nil {
		banned = func(Ban, bool) {}
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	if err := s.operOnlyLocked(); err != nil {
		return err
	}
	var until time.Time
	lasts := "until lifted" // for the log
	if d > 0 {
		until, lasts = h.now().Add(d), d.String()
	}
	prefix, isAddr, err := parsePrefix(target)
	if err != nil {
		return fail(CodeBadValue, "%s", err)
	}
	if isAddr {
		if prefix.Contains(s.remote) {
			return fail(CodeNotOnSelf, "that would ban you")
		}
		b := Ban{Address: prefix, Until: until}
		h.bans.addAddrLocked(prefix, until) // here at once; the order tells every node
		h.saveBan(b)
		banned(b, false)
		h.log.Info("ban", "by", s.name().Display, "addr", prefix.String(), "for", lasts)
		h.publishOrderLocked(s, 0, &Order{Kind: OrderBan, By: s.name().Display, Ban: b})
		return nil
	}
	n, err := ParseName(target)
	if bad, ok := err.(*NameError); ok {
		return fail(CodeBadName, "%s", bad.Reason)
	}
	if n.SameAs(s.name()) {
		return fail(CodeNotOnSelf, "not on yourself")
	}
	h.bans.addNameLocked(n, until) // here at once; the orders tell every node
	b := Ban{Name: n.Display, Until: until}
	h.saveBan(b)
	banned(b, false)
	h.log.Info("ban", "by", s.name().Display, "name", n.Display, "for", lasts)
	bans := []Ban{b}
	if who, online := h.findLocked(n.Display); online && who.account != "" {
		// A name is worn; an account is who someone is: banning the name of someone logged
		// in bans their account too, or they would be back under it at once.
		if an, err := ParseName(who.account); err == nil && !an.SameAs(n) && !an.SameAs(s.name()) {
			h.bans.addNameLocked(an, until)
			b := Ban{Name: an.Display, Until: until}
			h.saveBan(b)
			banned(b, true)
			bans = append(bans, b)
		}
	}
	for _, b := range bans {
		h.publishOrderLocked(s, 0, &Order{Kind: OrderBan, By: s.name().Display, Ban: b})
	}
	return nil
}

func (s *Session) cmdUnban(args string) error {
	if args == "" || strings.Contains(args, " ") {
		return s.usage("unban")
	}
	b, err := s.unban(args)
	switch {
	case s.tell(err):
	case b.Name != "":
		s.noticef("unbanned the name %s", b.Name)
	case b.Address.IsValid():
		s.noticef("unbanned %s", b.Address)
	}
	return nil
}

// Unban lifts the ban on target, a name (or a look-alike of it) or an address or network as
// it was banned; operators may.
func (s *Session) Unban(target string) error {
	_, err := s.unban(target)
	return err
}

// unban is Unban, returning the ban lifted.
func (s *Session) unban(target string) (Ban, error) {
	if target == "" {
		return Ban{}, fail(CodeNeedArgs, "what to unban?")
	}
	h := s.hub
	if !h.lockLive(s) {
		return Ban{}, nil
	}
	defer h.mu.Unlock()
	if err := s.operOnlyLocked(); err != nil {
		return Ban{}, err
	}
	prefix, isAddr, err := parsePrefix(target)
	if err != nil {
		return Ban{}, fail(CodeBadValue, "%s", err)
	}
	if isAddr {
		if !h.bans.removeAddrLocked(prefix) {
			return Ban{}, fail(CodeNotListed, "%s is not banned", prefix)
		}
		b := Ban{Address: prefix}
		h.deleteBan(b)
		h.publishOrderLocked(s, 0, &Order{Kind: OrderUnban, By: s.name().Display, Ban: b})
		return b, nil
	}
	n, err := ParseName(target)
	banned, ok := h.bans.removeNameLocked(n)
	if err != nil || !ok {
		return Ban{}, fail(CodeNotListed, "%s is not banned", clean(target, MaxNameLen*4))
	}
	b := Ban{Name: banned.Display}
	h.deleteBan(b)
	h.publishOrderLocked(s, 0, &Order{Kind: OrderUnban, By: s.name().Display, Ban: b})
	return b, nil
}
