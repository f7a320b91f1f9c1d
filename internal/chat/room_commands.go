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
	prep, prepares := h.bus.(roomPreparer)
	var rec RoomRecord // the cluster's record of the room, when there is a cluster
	var claimer uint64 // the member of this node whose claim rec came from
	if !exists && (prepares || h.keepsReplay() || h.records != nil) {
		if err := s.mayJoinLocked(); err != nil {
			h.mu.Unlock()
			return err
		}
		// What a room new to this node needs is waited for outside the lock: the bus's
		// subscription to it (JetStream requests, on a cluster), what was said in it before (a
		// room made again replays it), and the cluster's record of its owner and topic.
		replay := h.keepsReplay()
		if replay {
			h.startLoadLocked(n.looks[0])
		}
		m := s.member
		h.mu.Unlock()
		var prepared error
		if prepares {
			prepared = prep.Prepare(n.looks[0])
		}
		var read []Record
		if replay {
			read = h.loadRecent(n)
		}
		var claimErr error
		if h.records != nil && prepared == nil {
			rec, claimer, claimErr = h.claimRoom(n, m)
		}
		h.mu.Lock()
		if h.records != nil && prepared == nil {
			defer h.madeRoom(n, m) // the room is made, or will not be, by the time it runs
		}
		if replay {
			recent = h.endLoadLocked(n.looks[0], read)
		}
		if s.gone {
			h.mu.Unlock()
			return nil
		}
		r, exists = h.rooms.find(n) // someone may have made it meanwhile
		if prepared != nil && !exists {
			h.mu.Unlock()
			h.log.Warn("bus: cannot subscribe to a room", "err", prepared)
			return fail(CodeUnavailable, "%s cannot be reached just now: try again in a moment", n.Display)
		}
		if claimErr != nil && !exists {
			// NATS answers (the bus subscribed), but the record is not settled: the member joins
			// all the same, and the room's owner and topic come with the record's next change
			// (roomChanged). Refusing would turn a busy bucket into refused joins.
			h.log.Warn("rooms: joining a room whose record could not be read or made", "room", n.Display, "err", claimErr)
		}
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
	if h.records != nil && rec.Owner == s.member.id {
		how = madeRoom // its claim made the cluster's record, whoever made the room here
	}
	switch {
	case !exists && h.records != nil:
		// The cluster's record says who owns it: s's member when it made the record.
		r = newRoom(n)
		r.recent = recent
		h.addRoomLocked(r)
		r.topic, r.ownerID, r.rev = rec.Topic, rec.Owner, rec.Rev
		if rec.Owner != 0 && rec.Owner == claimer && h.liveMember(claimer) == nil {
			// Another joiner of this node claimed the record for itself and left before the
			// room was made: the room is this member's, as if its own claim had made it.
			h.records.Pass(r.key(), claimer, s.member.id, s.member.name().Display)
			r.ownerID, r.owner, how = s.member.id, s.member, madeRoom
		}
		if newer, ok := h.records.Lookup(r.key()); ok {
			h.adoptRecordLocked(r, newer) // changed since it was read, and told before r was here
		}
	case !exists:
		r = newRoom(n)
		r.recent = recent
		h.addRoomLocked(r)
		// A room new to this node may have members on other nodes: then it is theirs, and
		// whoever comes to it here does not own it.
		if len(h.elsewhereIn(n, false)) == 0 {
			r.owner = s.member
			how = madeRoom
		}
	}
	h.joinLocked(s, r)
	if h.records != nil {
		r.setOwnerLocked(s.member)
	}
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
	s.waitStored() // the leave after the member's last line there, not before
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
	h.partLocked(s.member, r, &Message{Kind: KindLeave, Room: r.name.Display, From: s.name().Display, Text: reason}, reason, s)
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
func (s *Session) Say(room, text string) error    { return s.sayTo(room, KindChat, text, false) }
func (s *Session) Action(room, text string) error { return s.sayTo(room, KindAction, text, false) }

// SayNotice is Say, the line marked as a notice (Message.Notice): IRC's NOTICE.
func (s *Session) SayNotice(room, text string) error { return s.sayTo(room, KindChat, text, true) }

func (s *Session) sayTo(room string, kind Kind, text string, notice bool) error {
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
	s.sayIn(r, kind, text, notice)
	return nil
}

func (s *Session) cmdRooms(string) error {
	rooms := s.Rooms()
	if rooms == nil { // no longer in the chat
		return nil
	}
	s.client.Deliver(&Message{Kind: KindRooms, Total: len(rooms), Rooms: rooms[:min(len(rooms), maxRoomsListed)]})
	return nil
}

// Rooms lists every room, the busiest first (then by name), with how many are in each and
// its topic. It is nil for a device no longer in the chat.
func (s *Session) Rooms() []RoomInfo {
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	defer h.mu.Unlock()
	rooms := h.rooms.values()
	type listed struct {
		RoomInfo
		key string // the room's Name.Key, to sort by
	}
	out := make([]*listed, 0, len(rooms))
	byKey := make(map[string]*listed, len(rooms))
	for _, r := range rooms {
		l := &listed{RoomInfo{Name: r.name.Display, Members: len(r.list()), Topic: r.topic}, r.name.Key}
		byKey[r.key()] = l
		out = append(out, l)
	}
	// The members other nodes hold, in these rooms and in rooms this node has nobody in.
	for _, p := range h.elsewhereIn(Name{}, true) {
		for _, room := range p.Rooms {
			n, err := ParseRoom(room)
			if err != nil {
				continue
			}
			l, ok := byKey[n.looks[0]]
			if !ok {
				l = &listed{RoomInfo{Name: n.Display}, n.Key}
				byKey[n.looks[0]] = l
				out = append(out, l)
			}
			l.Members++
		}
	}
	slices.SortFunc(out, func(a, b *listed) int {
		return cmp.Or(cmp.Compare(b.Members, a.Members), cmp.Compare(a.key, b.key))
	})
	infos := make([]RoomInfo, len(out))
	for i, l := range out {
		infos[i] = l.RoomInfo
	}
	return infos
}

// RoomInfo is Rooms' line of the room called room: its name as shown, how many are in it on
// this node and others, and its topic (none known for a room only other nodes have members
// in, as in Rooms). It looks up that room alone, so that asking after one room (IRC's LIST
// #channel) costs what one room costs, not what every room does. ok is false when no one is in
// such a room, or the device is no longer in the chat.
func (s *Session) RoomInfo(room string) (info RoomInfo, ok bool) {
	n, err := parseRoomArg(room)
	if err != nil {
		return RoomInfo{}, false
	}
	h := s.hub
	if !h.lockLive(s) {
		return RoomInfo{}, false
	}
	defer h.mu.Unlock()
	if r, here := h.rooms.find(n); here {
		return RoomInfo{Name: r.name.Display, Members: len(r.list()) + len(h.elsewhereIn(r.name, false)), Topic: r.topic}, true
	}
	if elsewhere := len(h.elsewhereIn(n, false)); elsewhere > 0 {
		return RoomInfo{Name: n.Display, Members: elsewhere}, true
	}
	return RoomInfo{}, false
}

func (s *Session) cmdWho(args string) error {
	who, err := s.Who(args)
	if s.tell(err) || who.Room == "" {
		return nil
	}
	s.client.Deliver(who.Message())
	return nil
}

// RoomMembers is who is in a room.
type RoomMembers struct {
	Room    string // the room's name as shown; "" when the device is no longer in the chat
	Members []MemberInfo
	// Total is how many members the room has: more than listed in a large room (see
	// large.go), whose list is bounded.
	Total int
}

// Message is the KindMembers answer that lists rm, as many as one answer shows.
func (rm RoomMembers) Message() *Message {
	return &Message{Kind: KindMembers, Room: rm.Room, Total: max(rm.Total, len(rm.Members)), Members: rm.Members[:min(len(rm.Members), maxWhoListed)]}
}

// Who lists the members of the room called room ("": the device's current one), marking its
// owner, the operators and who is away. The member need not be in the room. A large room's
// list is bounded (its moderators first, then the asker, then those there longest) and Total
// says how many are in it.
func (s *Session) Who(room string) (RoomMembers, error) {
	h := s.hub
	if !h.lockLive(s) {
		return RoomMembers{}, nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(room)
	if err != nil {
		// A room this node has nobody in may have members on other nodes.
		n, perr := parseRoomArg(room)
		if perr != nil {
			return RoomMembers{}, err
		}
		elsewhere := h.elsewhereIn(n, false)
		if len(elsewhere) == 0 {
			return RoomMembers{}, err
		}
		out := RoomMembers{Room: n.Display}
		for _, p := range elsewhere {
			out.Members = append(out.Members, MemberInfo{Name: p.Name, Operator: p.Operator, Away: p.Away})
		}
		h.boundPresences(&out)
		return out, nil
	}
	return h.membersLocked(r, s.member), nil
}

// membersLocked lists r's members, on this node and others, as asker is shown them: all of
// them, or a bounded list of a large room.
func (h *Hub) membersLocked(r *Room, asker *member) RoomMembers {
	if h.largeLocked(r) {
		return h.boundedMembersLocked(r, asker)
	}
	members := r.list()
	out := RoomMembers{Room: r.name.Display, Members: make([]MemberInfo, 0, len(members))}
	for _, who := range members {
		out.Members = append(out.Members, MemberInfo{Name: who.name().Display, Owner: who == r.owner, Operator: who.oper, Away: who.away})
	}
	for _, p := range h.elsewhereIn(r.name, false) {
		out.Members = append(out.Members, MemberInfo{Name: p.Name, Owner: r.ownerID != 0 && p.Member == r.ownerID,
			Operator: p.Operator, Away: p.Away})
	}
	out.Total = len(out.Members)
	return out
}

// MembersOnEntry is a Client that is shown who is in a room (a KindMembers message, every
// member listed, with the room's topic as Text) each time its device is put in a room it did
// not ask to join: another device of its account joined it, the member went back to the lobby
// after leaving or being kicked from its last room, or the device came in on an account that
// was in rooms already. IRC sends a channel's names with its JOIN, and a client cannot ask
// the chat while the chat delivers to it. Other clients are not, as the list costs as much as
// the room is large.
type MembersOnEntry interface {
	Client
	MembersOnEntry()
}

// showMembersLocked gives d the members of r, when its client wants them (MembersOnEntry).
func (h *Hub) showMembersLocked(d *Session, r *Room) {
	if _, ok := d.client.(MembersOnEntry); !ok {
		return
	}
	rm := h.membersLocked(r, d.member)
	d.client.Deliver(&Message{Kind: KindMembers, Room: rm.Room, Members: rm.Members, Total: rm.Total, Text: r.topic})
}

func (s *Session) cmdTopic(args string) error {
	if args == "" {
		room, topic, err := s.roomTopic("")
		switch {
		case s.tell(err) || room == "":
		case topic == "":
			s.noticef("%s has no topic", room)
		default:
			s.noticef("topic for %s: %s", room, topic)
		}
		return nil
	}
	if clean(args, maxTopic) == "-" {
		args = ""
	}
	err := s.Topic("", args)
	if is(err, CodeMuted) {
		s.refuseIfMuted() // said once a minute, not at each try
		return nil
	}
	s.tell(err)
	return nil
}

// RoomTopic returns the topic of the room called room ("": the device's current one), ""
// when it has none. The member need not be in the room.
func (s *Session) RoomTopic(room string) (string, error) {
	_, topic, err := s.roomTopic(room)
	return topic, err
}

// roomTopic is RoomTopic, with the room's name as shown ("" when the device is no longer in
// the chat).
func (s *Session) roomTopic(room string) (name, topic string, err error) {
	h := s.hub
	if !h.lockLive(s) {
		return "", "", nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(room)
	if err != nil {
		return "", "", err
	}
	return r.name.Display, r.topic, nil
}

// Topic sets the topic of the room called room ("": the device's current one), which the
// member must be in, to text ("": clears it). The room's owner and operators may, and only
// operators in the lobby. Everyone in the room is told by a KindTopic event, once the topic
// is kept when history is.
func (s *Session) Topic(room, text string) error {
	text = clean(text, maxTopic) // not under the lock
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	r, err := s.mayTopicLocked(room)
	var kept RoomRecord
	if err == nil && h.records != nil {
		kept = RoomRecord{Name: r.name.Display, Owner: r.ownerID, Topic: text}
	}
	h.mu.Unlock()
	if err != nil {
		return err
	}
	if h.records != nil {
		// Kept in the cluster's record first, for the nodes whose first member joins later.
		if err := h.records.SetTopic(r.key(), kept); err != nil {
			h.log.Error("rooms: a topic could not be kept", "room", r.name.Display, "err", err)
			return fail(CodeUnavailable, "the topic could not be kept just now: try again in a moment")
		}
	}
	setTopic := func(rec Record) {
		r.topic = rec.Text
		ev := Event{Room: r.key(), Msg: liveMessage(rec), From: s.origin()}
		if h.cfg.History != nil {
			ev.Record = &rec // for the other nodes' histories
		}
		h.publish(ev)
	}
	rec := Record{Time: h.now(), Kind: KindTopic, Room: r.key(), RoomName: r.name.Display,
		From: s.nameNow().Display, FromKey: s.nameNow().looks[0], Text: text}
	if h.cfg.History == nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		setTopic(rec)
		return nil
	}
	s.store(rec, func(rec Record, err error) {
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

// mayTopicLocked returns the room called room ("": the current one) if s may set its topic.
func (s *Session) mayTopicLocked(room string) (*Room, error) {
	h := s.hub
	r, err := s.roomLocked(room)
	switch {
	case err != nil:
		return nil, err
	case !slices.Contains(s.rooms, r):
		return nil, fail(CodeNotInRoom, "you are not in %s", r.name.Display)
	case s.oper || r.owner == s.member:
	case r == h.lobby:
		return nil, fail(CodeNotAllowed, "only operators set the topic of %s", r.name.Display)
	default:
		return nil, fail(CodeNotAllowed, "only the owner of %s and operators set its topic", r.name.Display)
	}
	return r, s.mutedError()
}
