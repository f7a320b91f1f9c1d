package chat

import "slices"

// Fan-out: the Bus calls deliver for each event, in each room's order, with no lock of the
// hub's held by deliver itself (the local bus may call it from a publisher that holds Hub.mu).
// So deliver reads only what is copy-on-write or atomic: the rooms by key, a room's members, a
// member's devices, what it ignores and each device's current room.

// deliver shows ev to this node's members it is for.
func (h *Hub) deliver(ev Event) {
	if ev.Order != nil {
		if ev.To == 0 || h.liveMember(ev.To) != nil {
			h.order(ev.Order)
		}
		return
	}
	if ev.To != 0 {
		if m := h.liveMember(ev.To); m != nil && !m.ignores(ev.From.Member) {
			if ev.Msg.Kind == KindPrivate && !ev.Msg.Sent {
				m.lastFrom.Store(&replyTo{member: ev.From.Member, name: ev.Msg.From, account: ev.From.Account})
			}
			m.deliver(ev.Msg)
		}
		return
	}
	if ev.Room != "" {
		if r := h.liveRoom(ev.Room); r != nil {
			h.deliverIn(r, ev)
		}
		return
	}
	// About a member in several rooms: each member of any of them is told once.
	if ev.Lost && ev.Msg != nil && ev.Msg.Kind == KindQuit { // h.records is read under the lock
		o := &Order{Kind: orderOwnerLost, Member: ev.From.Member, Rooms: ev.Rooms}
		if !ev.Operator { // told below in every room; else the large rooms it owned hear it then
			o.By, o.Reason = ev.Msg.From, ev.Msg.Text
		}
		h.order(o)
	}
	told := make(map[*member]bool)
	for _, key := range ev.Rooms {
		r := h.liveRoom(key)
		if r == nil || ev.Lost && !ev.Operator && r.large.Load() {
			continue // a member of a dead node: not told in a large room (see large.go)
		}
		msg := ev.Msg
		if msg.Kind == KindQuit { // named by the first room the member shares with the quitter
			msg = &Message{Kind: msg.Kind, Room: r.name.Display, From: msg.From, Text: msg.Text}
		}
		for _, m := range r.list() {
			if told[m] {
				continue
			}
			told[m] = true
			m.deliver(msg)
		}
	}
}

// deliverIn shows ev, an event of room r, to r's members on this node, as its kind says.
func (h *Hub) deliverIn(r *Room, ev Event) {
	msg := ev.Msg
	switch msg.Kind {
	case KindChat, KindAction:
		h.deliverLine(r, ev)
	case KindJoin:
		// The joiner's own device knows (it asked); its other devices are told as the others.
		// Device 0 is the server putting the member back in a room: it tells each device itself.
		for _, m := range r.list() {
			if ev.From.Device == 0 && m.id == ev.From.Member {
				continue
			}
			for _, d := range m.list() {
				if d.id != ev.From.Device {
					d.deliverNow(msg)
				}
			}
		}
	default: // leaves, kicks, topics: everyone in the room
		if msg.Kind == KindTopic && h.liveMember(ev.From.Member) == nil {
			// Set on another node: this node's room keeps it too, for whoever joins it here.
			h.order(&Order{Kind: orderTopicSeen, Room: ev.Room, Reason: msg.Text})
		}
		for _, m := range r.list() {
			m.deliver(msg)
		}
	}
}

// deliverLine shows a line said in r to the devices of the members who do not ignore its
// sender, and to the sender's other devices as its own (Sent); devices whose current room is
// another get a copy marked Elsewhere, made once.
func (h *Hub) deliverLine(r *Room, ev Event) {
	var v lineVariants
	for _, who := range r.list() {
		for _, d := range who.list() {
			if here, elsewhere := v.of(&ev, who, d); here != nil {
				d.deliverInRoom(r, here, elsewhere)
			}
		}
	}
}

// LinesClient is a Client that takes several room lines at once. When lines of a busy room
// wait for the same walk over its members (the local bus's turn), each device is handed them
// in one call, so that a transport queues them under one lock rather than one each: the lock's
// release waits for the stores made under it, and the lines' stores then overlap. DeliverLines
// takes what Deliver would take of each, in order, and must not keep ms.
type LinesClient interface {
	DeliverLines(ms []*Message)
}

// deliverLines shows evs, lines said in one room one after another (queued on the local bus),
// as deliverLine shows each, a device's lines in one call where it is a LinesClient. Most
// members said none of them and ignore nobody: their devices are all handed the same list, made
// once, rather than a list built per device.
func (h *Hub) deliverLines(evs []Event) {
	r := h.liveRoom(evs[0].Room)
	if r == nil {
		return
	}
	variants := make([]lineVariants, len(evs))
	here := make([]*Message, len(evs))
	var senders []uint64
	for i := range evs {
		here[i] = evs[i].Msg
		if !slices.Contains(senders, evs[i].From.Member) {
			senders = append(senders, evs[i].From.Member)
		}
	}
	var elsewhere []*Message // made when first needed, as here is for such members
	mixed := make([]*Message, 0, len(evs))
	for _, who := range r.list() {
		plain := who.ignored.Load() == nil && !slices.Contains(senders, who.id)
		for _, d := range who.list() {
			if !d.welcomed.Load() {
				for i := range evs {
					if lineHere, lineElsewhere := variants[i].of(&evs[i], who, d); lineHere != nil {
						d.deliverInRoom(r, lineHere, lineElsewhere)
					}
				}
				continue
			}
			inRoom := d.current.Load() == r
			var ms []*Message
			switch {
			case plain && inRoom:
				ms = here
			case plain:
				if elsewhere == nil {
					elsewhere = make([]*Message, len(evs))
					for i := range evs {
						_, elsewhere[i] = variants[i].of(&evs[i], who, d)
					}
				}
				ms = elsewhere
			default:
				ms = mixed[:0]
				for i := range evs {
					lineHere, lineElsewhere := variants[i].of(&evs[i], who, d)
					switch {
					case lineHere == nil:
					case inRoom:
						ms = append(ms, lineHere)
					default:
						ms = append(ms, lineElsewhere)
					}
				}
			}
			switch c, ok := d.client.(LinesClient); {
			case len(ms) == 0:
			case ok && len(ms) > 1:
				c.DeliverLines(ms)
			default:
				for _, m := range ms {
					d.client.Deliver(m)
				}
			}
		}
	}
}

// lineVariants are the copies of a line deliverLine makes, once each.
type lineVariants struct {
	elsewhere, own, ownElsewhere *Message
}

// of returns what device d of member who is shown of line ev, here and elsewhere (see
// deliverLine); nil when nothing.
func (v *lineVariants) of(ev *Event, who *member, d *Session) (here, elsewhere *Message) {
	m := ev.Msg
	if who.id == ev.From.Member {
		if d.id == ev.From.Device {
			return nil, nil
		}
		if v.own == nil {
			v.own = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Sent: true, ID: m.ID, Time: m.Time, Notice: m.Notice}
			v.ownElsewhere = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Sent: true, ID: m.ID, Time: m.Time, Elsewhere: true, Notice: m.Notice}
		}
		return v.own, v.ownElsewhere
	}
	if who.ignores(ev.From.Member) {
		return nil, nil
	}
	if v.elsewhere == nil {
		v.elsewhere = &Message{Kind: m.Kind, Room: m.Room, From: m.From, Text: m.Text, Elsewhere: true, ID: m.ID, Time: m.Time, Notice: m.Notice}
	}
	return m, v.elsewhere
}

// deliverInRoom gives the device a line said in r: here when r is where its plain lines go,
// else elsewhere.
func (d *Session) deliverInRoom(r *Room, here, elsewhere *Message) {
	if !d.welcomed.Load() && d.keepEarly(early{room: r, here: here, elsewhere: elsewhere}) {
		return
	}
	if d.current.Load() != r {
		d.client.Deliver(elsewhere)
		return
	}
	d.client.Deliver(here)
}

// deliverNow gives the device msg, or, while it is being welcomed, keeps msg to give it right
// after its welcome: never blocking, since the bus delivers under a room's lock.
func (d *Session) deliverNow(msg *Message) {
	if !d.welcomed.Load() && d.keepEarly(early{here: msg}) {
		return
	}
	d.client.Deliver(msg)
}

// early is what came for a device before its welcome: a message, or a line said in room,
// shown as here or elsewhere once the device's current room is known.
type early struct {
	room            *Room
	here, elsewhere *Message
}

// keepEarly keeps e for after the welcome and reports whether it did: false when the welcome
// was done meanwhile.
func (d *Session) keepEarly(e early) bool {
	d.earlyMu.Lock()
	defer d.earlyMu.Unlock()
	if d.welcomed.Load() {
		return false
	}
	d.early = append(d.early, e)
	return true
}

// welcomeDone marks the device welcomed and gives it what came for it meanwhile, in order.
func (d *Session) welcomeDone() {
	d.earlyMu.Lock()
	defer d.earlyMu.Unlock()
	for _, e := range d.early {
		if e.room != nil && d.current.Load() != e.room {
			d.client.Deliver(e.elsewhere)
		} else {
			d.client.Deliver(e.here)
		}
	}
	d.early = nil
	d.welcomed.Store(true)
}

// liveMember returns the member numbered id, with no lock: what deliver may use.
func (h *Hub) liveMember(id uint64) *member {
	if m, ok := h.membersByID.Load(id); ok {
		return m.(*member)
	}
	return nil
}

// tellMember says text to every device of m, through the bus: a notice about m (kicked,
// muted, owner of a room now), which m's own node shows it.
func (h *Hub) tellMember(m *member, text string) {
	h.publish(Event{To: m.id, Msg: &Message{Kind: KindNotice, Text: text}})
}

// liveRoom returns the room whose key is key, with no lock: what deliver may use.
func (h *Hub) liveRoom(key string) *Room {
	if r, ok := h.roomsByKey.Load(key); ok {
		return r.(*Room)
	}
	return nil
}

// publish hands ev to the bus. A failure means nobody was shown it; the local bus never fails,
// and a network bus's failures are the caller's to tell the user (see sayIn).
func (h *Hub) publish(ev Event) error {
	if err := h.bus.Publish(ev); err != nil {
		h.log.Error("bus: an event was not published", "room", ev.Room, "err", err)
		return err
	}
	return nil
}
