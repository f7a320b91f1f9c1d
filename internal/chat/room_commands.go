package chat

import (
	"cmp"
	"slices"
	"strings"
)

// Bounds on the lists commands print, so that one command cannot bury a user in output.
const (
	maxRoomsListed = 50
	maxWhoListed   = 100
)

func (s *Session) cmdJoin(args string) error {
	if args == "" || strings.Contains(args, " ") {
		return s.usage("join")
	}
	s.tell(s.join(args, func(r *Room, how joined) {
		switch how {
		case madeRoom:
			s.noticef("you made %s and own it: plain lines now go there", r.name.Display)
		case joinedRoom:
			s.noticef("you joined %s (%d here): plain lines now go there", r.name.Display, len(r.list()))
		case wasInRoom:
			s.noticef("now talking in %s", r.name.Display)
		}
	}))
	return nil
}

// joined says how a Join went.
type joined uint8

const (
	joinedRoom joined = iota // the member joined a room others were in
	madeRoom                 // the member made the room, and owns it
	wasInRoom                // the member was in it already: it is this device's current room now
)

// Join puts the member in the room called room, on all its devices, making it (owned by the
// member) if nobody is in it, and makes it where this device's plain lines go.
func (s *Session) Join(room string) error { return s.join(room, nil) }

// join is Join, calling done (when not nil) under the hub's lock once it is done, so that
// what it says comes before what happens next in the room.
func (s *Session) join(room string, done func(*Room, joined)) error {
	n, err := parseRoomArg(room)
	if bad, ok := err.(*NameError); ok {
		return fail(CodeBadName, "%s", bad.Reason)
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	r, exists := h.rooms.find(n)
	var recent []Record
	if !exists && h.keepsReplay() {
		if err := s.mayJoinLocked(); err != nil {
			h.mu.Unlock()
			return err
		}
		// A room made again replays what was said in it before: read outside the lock.
		h.startLoadLocked(n.looks[0])
		h.mu.Unlock()
		read := h.loadRecent(n)
		h.mu.Lock()
		recent = h.endLoadLocked(n.looks[0], read)
		if s.gone {
			h.mu.Unlock()
			return nil
		}
		r, exists = h.rooms.find(n) // someone may have made it meanwhile
	}
	defer h.mu.Unlock()
	if exists && slices.Contains(s.rooms, r) {
		s.setCurrent(r)
		if done != nil {
			done(r, wasInRoom)
		}
		return nil
	}
	if err := s.mayJoinLocked(); err != nil {
		return err
	}
	how := joinedRoom
	if !exists {
		r = newRoom(n)
		r.owner = s.member
		r.recent = recent
		h.addRoomLocked(r)
		how = madeRoom
	}
	h.joinLocked(s, r)
	if done != nil {
		done(r, how)
	}
	return nil
}

// mayJoinLocked says why the member may not join one more room, if it may not.
func (s *Session) mayJoinLocked() error {
	if len(s.rooms) >= s.hub.cfg.MaxRoomsPerUser {
		return fail(CodeTooManyRooms, "you are in %d rooms, the most allowed: /part one first", len(s.rooms))
	}
	return nil
}

// parseRoomArg is ParseRoom for a room a user typed, with "#" alone refused in words about a
// room rather than a name.
func parseRoomArg(args string) (Name, error) {
	if strings.Trim(strings.TrimPrefix(strings.Trim(args, " \t"), "#"), " \t") == "" {
		return Name{}, badName("a room name needs at least one character after the #")
	}
	return ParseRoom(args)
}

func (s *Session) cmdPart(args string) error {
	// Said before the part's other news (where plain lines go now), not after.
	s.tell(s.part(args, "", func(r *Room) { s.noticef("you left %s", r.name.Display) }))
	return nil
}

// Part takes the member out of the room called room ("": the device's current one), on all
// its devices, telling the room why (reason may be empty). Leaving the last room goes back to
// the lobby.
func (s *Session) Part(room, reason string) error {
	return s.part(room, reason, nil)
}

// part is Part, calling leaving (when not nil) once the room is known and before it is left.
func (s *Session) part(room, reason string, leaving func(*Room)) error {
	reason = clean(reason, maxReason)
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(room)
	switch {
	case err != nil:
		return err
	case !slices.Contains(s.rooms, r):
		return fail(CodeNotInRoom, "you are not in %s", r.name.Display)
	case r == h.lobby && len(s.rooms) == 1:
		return fail(CodeNotAllowed, "%s is your only room: /join another first, or /quit", r.name.Display)
	}
	if leaving != nil {
		leaving(r)
	}
	h.partLocked(s.member, r, &Message{Kind: KindLeave, Room: r.name.Display, From: s.name.Display, Text: reason}, reason, s)
	return nil
}

// roomLocked returns the room called room, or the device's current room when room is "".
func (s *Session) roomLocked(room string) (*Room, error) {
	if room == "" {
		return s.current.Load(), nil
	}
	n, err := parseRoomArg(room)
	if bad, ok := err.(*NameError); ok {
		return nil, fail(CodeNoSuchRoom, "%s", bad.Reason)
	}
	r, ok := s.hub.rooms.find(n)
	if !ok {
		return nil, fail(CodeNoSuchRoom, "there is no room %s", n.Display)
	}
	return r, nil
}

// Say says text in the room called room ("": the device's current one), which the member must
// be in; Action does text there, as /me does.
func (s *Session) Say(room, text string) error    { return s.sayTo(room, KindChat, text) }
func (s *Session) Action(room, text string) error { return s.sayTo(room, KindAction, text) }

func (s *Session) sayTo(room string, kind Kind, text string) error {
	text = clean(text, 1<<20)
	if strings.TrimFunc(text, blank) == "" {
		return fail(CodeNeedArgs, "no text to send")
	}
	if left := s.muted(); left > 0 {
		return fail(CodeMuted, "you are muted for another %v", left.Round(1e9))
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	r, err := s.roomLocked(room)
	if err == nil && !slices.Contains(s.rooms, r) {
		err = fail(CodeNotInRoom, "you are not in %s", r.name.Display)
	}
	h.mu.Unlock()
	if err != nil {
		return err
	}
	s.sayIn(r, kind, text)
	return nil
}

func (s *Session) cmdRooms(string) error {
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	rooms := h.rooms.values()
	slices.SortFunc(rooms, func(a, b *Room) int {
		return cmp.Or(cmp.Compare(len(b.list()), len(a.list())), cmp.Compare(a.name.Key, b.name.Key))
	})
	m := &Message{Kind: KindRooms, Total: len(rooms)}
	for _, r := range rooms[:min(len(rooms), maxRoomsListed)] {
		m.Rooms = append(m.Rooms, RoomInfo{Name: r.name.Display, Members: len(r.list()), Topic: r.topic})
	}
	s.client.Deliver(m)
	return nil
}

func (s *Session) cmdWho(args string) error {
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(args)
	if s.tell(err) {
		return nil
	}
	members := r.list()
	m := &Message{Kind: KindMembers, Room: r.name.Display, Total: len(members)}
	for _, who := range members[:min(len(members), maxWhoListed)] {
		m.Members = append(m.Members, MemberInfo{Name: who.name.Display, Owner: who == r.owner, Operator: who.oper, Away: who.away})
	}
	s.client.Deliver(m)
	return nil
}

func (s *Session) cmdTopic(args string) error {
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	r, ok := s.mayTopicLocked(args)
	h.mu.Unlock()
	if !ok {
		return nil
	}
	topic := clean(args, maxTopic)
	if topic == "-" {
		topic = ""
	}
	setTopic := func(rec Record) {
		r.topic = rec.Text
		m := liveMessage(rec)
		h.publish(Event{Room: r.key(), Msg: m, From: s.origin()})
	}
	rec := Record{Time: h.now(), Kind: KindTopic, Room: r.key(), RoomName: r.name.Display,
		From: s.nameNow().Display, FromKey: s.nameNow().looks[0], Text: topic}
	if h.cfg.History == nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		setTopic(rec)
		return nil
	}
	h.cfg.History.Store(rec, func(rec Record, err error) {
		if err != nil {
			s.storeFailed(err)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		setTopic(rec)
		h.rememberLocked(r, rec)
	})
	return nil
}

// mayTopicLocked shows the topic of the current room when args is empty, and otherwise
// returns the room whose topic s may set, telling s when it may not.
func (s *Session) mayTopicLocked(args string) (*Room, bool) {
	h := s.hub
	r := s.current.Load()
	if args == "" {
		if r.topic == "" {
			s.noticef("%s has no topic", r.name.Display)
		} else {
			s.noticef("topic for %s: %s", r.name.Display, r.topic)
		}
		return nil, false
	}
	if !s.oper && r.owner != s.member {
		if r == h.lobby {
			s.notice("only operators set the topic of " + r.name.Display)
		} else {
			s.noticef("only the owner of %s and operators set its topic", r.name.Display)
		}
		return nil, false
	}
	return r, !s.refuseIfMuted()
}
