package chat

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What a member says of itself (away) and learns or decides about others (whois, ignore):
// the typed methods, and the slash commands over them.

func (s *Session) cmdAway(args string) error {
	if args != "" && s.refuseIfMuted() {
		return nil // an away text is shown to others: a muted member sets none
	}
	was, now, live, err := s.setAway(args)
	switch {
	case s.tell(err) || !live:
	case now == "" && was == "":
		s.notice("you are not away: /away REASON marks you away")
	case now == "":
		s.notice("you are no longer away")
	default:
		s.noticef("you are away: %s", now)
	}
	return nil
}

// Away marks the member away for text, shown to whoever sends it a private message or asks
// who it is, or back when text is "". A muted member may come back, not go away.
func (s *Session) Away(text string) error {
	_, _, _, err := s.setAway(text)
	return err
}

// setAway is Away, returning what the member's away text was and is, and whether the device
// is still in the chat.
func (s *Session) setAway(text string) (was, now string, live bool, err error) {
	text = clean(text, maxAway)
	if text != "" {
		if err := s.mutedError(); err != nil {
			return "", "", true, err
		}
	}
	h := s.hub
	if !h.lockLive(s) {
		return "", "", false, nil
	}
	defer h.mu.Unlock()
	was, s.away = s.away, text
	h.showLocked(s.member)
	if was != text {
		keys := make([]string, len(s.rooms))
		for i, r := range s.rooms {
			keys[i] = r.key()
		}
		h.publish(Event{Rooms: keys, Msg: &Message{Kind: KindAway, From: s.name().Display, Text: text}, From: s.origin()})
	}
	return was, text, true, nil
}

func (s *Session) cmdWhois(args string) error {
	if args == "" || strings.Contains(args, " ") {
		return s.usage("whois")
	}
	who, err := s.Whois(args)
	if s.tell(err) || who.Name == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString(who.Name + ": in")
	for _, r := range who.Rooms {
		b.WriteString(" " + r)
	}
	b.WriteString(", online " + s.hub.now().Sub(who.Since).Round(time.Second).String())
	if who.Account != "" {
		b.WriteString(", logged in as " + who.Account)
	} else {
		b.WriteString(", a guest")
	}
	if who.Devices > 1 {
		b.WriteString(", on " + strconv.Itoa(who.Devices) + " devices")
	}
	if who.Operator {
		b.WriteString(", operator")
	}
	if who.From != nil {
		b.WriteString(", from")
		for i, a := range who.From {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + a.String())
		}
	}
	s.notice(b.String())
	if who.Away != "" {
		// On a line of its own: free text after the facts could pass for more of them.
		s.noticef("%s is away: %s", who.Name, who.Away)
	}
	return nil
}

// MemberFacts is what Whois tells of a member.
type MemberFacts struct {
	Name     string    // "" when the asking device is no longer in the chat
	Rooms    []string  // the rooms it is in, in the order it joined them
	Since    time.Time // when its first device entered
	Account  string    // the account it is logged in as; "" for a guest
	Devices  int       // how many devices it is connected from
	Operator bool
	Away     string       // why it is away; "" when it is not
	From     []netip.Addr // each device's address, only when an operator asks; else nil
}

// Whois tells who the member called name is.
func (s *Session) Whois(name string) (MemberFacts, error) {
	h := s.hub
	if !h.lockLive(s) {
		return MemberFacts{}, nil
	}
	defer h.mu.Unlock()
	who, ok := h.findLocked(name)
	if !ok {
		return MemberFacts{}, fail(CodeNoSuchName, "no one called %s is online", clean(name, MaxNameLen*4))
	}
	if p := who.elsewhere; p != nil {
		f := p.MemberFacts
		if !s.oper {
			f.From = nil
		}
		return f, nil
	}
	devices := who.list()
	f := MemberFacts{Name: who.name().Display, Since: who.since, Account: who.account, Devices: len(devices),
		Operator: who.oper, Away: who.away}
	for _, r := range who.rooms {
		f.Rooms = append(f.Rooms, r.name.Display)
	}
	if s.oper {
		f.From = make([]netip.Addr, 0, len(devices))
		for _, d := range devices {
			f.From = append(f.From, d.remote)
		}
	}
	return f, nil
}

func (s *Session) cmdIgnore(args string) error {
	if args == "" {
		names, ok := s.ignoring()
		switch {
		case !ok:
		case len(names) == 0:
			s.notice("you ignore no one")
		default:
			s.noticef("you ignore: %s", strings.Join(names, ", "))
		}
		return nil
	}
	who, err := s.ignore(args)
	if !s.tell(err) && who != "" {
		s.noticef("ignoring %s: you will not see their lines or messages", who)
	}
	return nil
}

// Ignoring returns the names of the members online whom the member ignores, sorted.
func (s *Session) Ignoring() []string {
	names, _ := s.ignoring()
	return names
}

// ignoring is Ignoring, and whether the device is still in the chat.
func (s *Session) ignoring() ([]string, bool) {
	h := s.hub
	if !h.lockLive(s) {
		return nil, false
	}
	defer h.mu.Unlock()
	var names []string
	if old := s.ignored.Load(); old != nil {
		for _, who := range *old {
			if !who.left {
				names = append(names, who.name().Display)
			}
		}
	}
	slices.Sort(names)
	return names, true
}

// Ignore hides from the member the lines and private messages of the member called name,
// until one of them leaves. The one ignored is not told.
func (s *Session) Ignore(name string) error {
	_, err := s.ignore(name)
	return err
}

// ignore is Ignore, returning the name of the member ignored.
func (s *Session) ignore(name string) (string, error) {
	if name == "" {
		return "", fail(CodeNeedArgs, "whom to ignore?")
	}
	h := s.hub
	if !h.lockLive(s) {
		return "", nil
	}
	defer h.mu.Unlock()
	who, ok := h.findLocked(name)
	switch {
	case !ok:
		return "", fail(CodeNoSuchName, "no one called %s is online", clean(name, MaxNameLen*4))
	case who == s.member:
		return "", fail(CodeNotOnSelf, "you cannot ignore yourself")
	}
	old := s.ignored.Load()
	set := map[uint64]*member{who.id: who}
	if old != nil {
		for id, m := range *old {
			set[id] = m
		}
	}
	s.ignored.Store(&set)
	return who.name().Display, nil
}

func (s *Session) cmdUnignore(args string) error {
	if args == "" {
		return s.usage("unignore")
	}
	who, err := s.unignore(args)
	if !s.tell(err) && who != "" {
		s.noticef("no longer ignoring %s", who)
	}
	return nil
}

// Unignore shows the member again the lines and messages of the member called name.
func (s *Session) Unignore(name string) error {
	_, err := s.unignore(name)
	return err
}

// unignore is Unignore, returning the name of the member no longer ignored.
func (s *Session) unignore(name string) (string, error) {
	h := s.hub
	if !h.lockLive(s) {
		return "", nil
	}
	defer h.mu.Unlock()
	who, ok := h.findLocked(name)
	old := s.ignored.Load()
	if !ok || old == nil {
		return "", fail(CodeNotListed, "you do not ignore %s", clean(name, MaxNameLen*4))
	}
	if _, ignored := (*old)[who.id]; !ignored {
		return "", fail(CodeNotListed, "you do not ignore %s", who.name().Display)
	}
	set := make(map[uint64]*member, len(*old))
	for id, m := range *old {
		if id != who.id {
			set[id] = m
		}
	}
	s.ignored.Store(&set)
	return who.name().Display, nil
}
