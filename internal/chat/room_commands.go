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
	n, err := parseRoomArg(args)
	if bad, ok := err.(*NameError); ok {
		s.notice(bad.Reason)
		return nil
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	r, exists := h.rooms.find(n)
	var recent []Record
	if !exists && h.keepsReplay() {
		if s.refuseJoinLocked(r, exists) {
			h.mu.Unlock()
			return nil
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
	if s.refuseJoinLocked(r, exists) {
		return nil
	}
	if !exists {
		r = newRoom(n)
		r.owner = s.member
		r.recent = recent
		h.addRoomLocked(r)
	}
	h.joinLocked(s, r)
	if !exists {
		s.noticef("you made %s and own it: plain lines now go there", r.name.Display)
	} else {
		s.noticef("you joined %s (%d here): plain lines now go there", r.name.Display, len(r.list()))
	}
	return nil
}

// refuseJoinLocked answers a /join that needs no joining (s is in r already: r becomes its
// current room) or that is not allowed (s is in too many rooms), and reports whether it did.
func (s *Session) refuseJoinLocked(r *Room, exists bool) bool {
	if exists && slices.Contains(s.rooms, r) {
		s.setCurrent(r)
		s.noticef("now talking in %s", r.name.Display)
		return true
	}
	if len(s.rooms) >= s.hub.cfg.MaxRoomsPerUser {
		s.noticef("you are in %d rooms, the most allowed: /part one first", len(s.rooms))
		return true
	}
	return false
}

// parseRoomArg is ParseRoom for a room a user typed, with "#" alone refused in words about a
// room rather than a name.
func parseRoomArg(args string) (Name, error) {
	if strings.Trim(strings.TrimPrefix(strings.Trim(args, " \t"), "#"), " \t") == "" {
		return Name{}, badName("a room name needs at least one character after the #")
	}
	return ParseRoom(args)
}

// roomArgLocked returns the room named by args, or the current room when args is empty,
// telling the user when there is no such room.
func (s *Session) roomArgLocked(args string) (*Room, bool) {
	if args == "" {
		return s.current.Load(), true
	}
	n, err := parseRoomArg(args)
	if bad, ok := err.(*NameError); ok {
		s.notice(bad.Reason)
		return nil, false
	}
	r, ok := s.hub.rooms.find(n)
	if !ok {
		s.noticef("there is no room %s", n.Display)
		return nil, false
	}
	return r, true
}

func (s *Session) cmdPart(args string) error {
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	r, ok := s.roomArgLocked(args)
	switch {
	case !ok:
		return nil
	case !slices.Contains(s.rooms, r):
		s.noticef("you are not in %s", r.name.Display)
		return nil
	case r == h.lobby && len(s.rooms) == 1:
		s.noticef("%s is your only room: /join another first, or /quit", r.name.Display)
		return nil
	}
	s.noticef("you left %s", r.name.Display)
	h.partLocked(s.member, r, &Message{Kind: KindLeave, Room: r.name.Display, From: s.name.Display}, "", s)
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
	r, ok := s.roomArgLocked(args)
	if !ok {
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
