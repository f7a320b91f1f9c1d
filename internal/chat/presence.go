package chat

import (
	"slices"
)

// Presence is what the chat's Names tell of a member online on any node: what /who, /whois,
// a private message, a kick or a mute need of someone another node holds. The node that holds
// the member keeps it up to date (Names.Update) as the member joins, leaves, goes away...
type Presence struct {
	Member    uint64
	Node      string // the node it is on, as the registry says; "" on a single node
	AccountID int64  // its account's ID, 0 for a guest
	MemberFacts
}

// presenceLocked is what others see of m.
func (h *Hub) presenceLocked(m *member) Presence {
	devices := m.list()
	p := Presence{Member: m.id, AccountID: m.accountID, MemberFacts: MemberFacts{
		Name: m.name().Display, Since: m.since, Account: m.account, Devices: len(devices), Operator: m.oper, Away: m.away}}
	for _, r := range m.rooms {
		p.Rooms = append(p.Rooms, r.name.Display)
	}
	for _, d := range devices {
		p.From = append(p.From, d.remote)
	}
	return p
}

// showLocked tells Names what m looks like now, for the other nodes, and m's rooms whether
// it is an operator (every change of its rights is shown).
func (h *Hub) showLocked(m *member) {
	for _, r := range m.rooms {
		r.operChangedLocked(m)
	}
	if h.presenceShared && !m.left && m.elsewhere == nil {
		h.claims.Update(h.presenceLocked(m))
	}
}

// findLocked returns the member called name (or a name that looks the same): one of this
// node's, or a stand-in for one another node holds (see ghost).
func (h *Hub) findLocked(name string) (*member, bool) {
	n, err := ParseName(name)
	if err != nil {
		return nil, false
	}
	if m, ok := h.names.find(n); ok {
		return m, true
	}
	p, ok := h.claims.Lookup(n)
	if !ok || h.liveMember(p.Member) != nil { // this node's, being renamed or leaving
		return nil, false
	}
	return ghost(p), true
}

// ghost stands for a member another node holds, for the length of one call: it is in no
// index, has no device, and what is done to it goes through the bus to its own node (a private
// message, an order).
func ghost(p Presence) *member {
	n, err := ParseName(p.Name)
	if err != nil {
		n = Name{Display: p.Name}
	}
	m := newMember(p.Member, n, p.Since)
	m.account, m.accountID, m.away, m.oper = p.Account, p.AccountID, p.Away, p.Operator
	m.elsewhere = &p
	return m
}

// inRoom reports whether m is in r, for a member of this node or another.
func (m *member) inRoom(r *Room) bool {
	if m.elsewhere != nil {
		return slices.ContainsFunc(m.elsewhere.Rooms, func(room string) bool { return isRoom(room, r.name) })
	}
	return slices.Contains(m.rooms, r)
}

// isRoom reports whether room, a room's name as Presence lists it, is the room called n.
func isRoom(room string, n Name) bool {
	parsed, err := ParseRoom(room)
	return err == nil && parsed.SameAs(n)
}

// elsewhereIn returns the members other nodes hold in the room called name (or in any room,
// when everyRoom), from what Names tell.
func (h *Hub) elsewhereIn(name Name, everyRoom bool) []Presence {
	var known []Presence
	if everyRoom {
		known = h.claims.Online()
	} else {
		known = h.claims.InRoom(name.looks[0])
	}
	out := known[:0:0]
	for _, p := range known {
		if h.liveMember(p.Member) == nil {
			out = append(out, p)
		}
	}
	return out
}

// replyTo is who sent a member its last private message: /reply answers the same member, or
// the same account, never whoever holds the name by then.
type replyTo struct {
	member  uint64
	name    string
	account int64
}

// replyTargetLocked finds who r is now: the member itself, here or on another node, or its
// account's member; nil when gone.
func (h *Hub) replyTargetLocked(r *replyTo) *member {
	if m := h.liveMember(r.member); m != nil && !m.left {
		return m
	}
	if r.account != 0 {
		if m := h.byAccount[r.account]; m != nil {
			return m
		}
	}
	n, err := ParseName(r.name)
	if err != nil {
		return nil
	}
	if p, ok := h.claims.Lookup(n); ok && (p.Member == r.member || (r.account != 0 && p.AccountID == r.account)) {
		return ghost(p)
	}
	return nil
}
