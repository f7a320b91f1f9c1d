package chat

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Moderation acts through events: whoever kicks, mutes or bans checks that it may, and
// publishes an Order on the bus; the node that holds the member concerned carries it out. A
// kick goes to the kicked member alone (Event.To); mutes and bans go to every node (an Event
// with neither a room nor a member), since each node keeps them and disconnects its own members
// they concern. So an operator on one node of a cluster moderates members on another, and a
// single node does exactly the same through its in-process bus.

// Order is a moderation act, as the bus carries it.
type Order struct {
	Kind   OrderKind
	Member uint64 // whom: a kick, a mute, an unmute, a lost name
	// Room is a kick's room key; "" is out of the chat (a kick from the lobby).
	Room   string
	By     string        // who ordered it, as shown to the member
	Reason string        // a kick's reason, as typed
	For    time.Duration // a mute's length
	// Account is a mute's account: muted until Until too, should it come back.
	Account string
	Until   time.Time // a mute's or a ban's end; zero: until lifted
	Ban     Ban       // what a ban or an unban is of
	Rooms   []string  // orderOwnerLost's room keys (By and Reason: the quit's name and text,
	// to tell in the large rooms it owned, which did not hear it; "" when they did)
}

// OrderKind says what an Order does.
type OrderKind uint8

// The orders.
const (
	OrderKick OrderKind = iota + 1
	OrderMute
	OrderUnmute
	OrderBan
	OrderUnban
	// OrderNameLost: the member's claim on its name expired (its node could not refresh it),
	// so someone else may hold the name now: the member is disconnected.
	OrderNameLost

	// orderTopicSeen never travels: it is how deliver has this node keep a topic another node
	// set (Reason), under Hub.mu.
	orderTopicSeen OrderKind = 255
	// orderRoomSeen never travels either: the cluster's record of the room Room changed.
	orderRoomSeen OrderKind = 254
	// orderOwnerLost never travels either: Member, of another node, is gone with its node (a
	// Lost quit) from the rooms Rooms, whose records may still name it as owner.
	orderOwnerLost OrderKind = 253
)

// orders runs the Orders the bus delivers, one at a time and in the order they came, under
// Hub.mu, which deliver may not take: a goroutine runs while there are orders to run and ends
// when there are none, so an idle hub has none to stop.
type orders struct {
	mu      sync.Mutex // a leaf
	pending []*Order
	running bool
}

// order is how deliver hands over an Order.
func (h *Hub) order(o *Order) {
	q := &h.orders
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, o)
	if !q.running {
		q.running = true
		go h.runOrders()
	}
}

func (h *Hub) runOrders() {
	q := &h.orders
	for {
		// Taken under Hub.mu, so that publishOrderLocked, which holds it, finds its own order
		// still queued.
		h.mu.Lock()
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		if len(batch) == 0 {
			q.running = false
		}
		q.mu.Unlock()
		for _, o := range batch {
			h.applyLocked(o)
		}
		h.mu.Unlock()
		if len(batch) == 0 {
			return
		}
	}
}

// publishOrderLocked publishes o, for the member to (0: for every node), and carries out at
// once what came back for this node: with the in-process bus the order is already queued, so a
// single node moderates before the command returns, as a user expects; through a cluster's bus
// the order comes back later, and runOrders carries it out.
func (h *Hub) publishOrderLocked(s *Session, to uint64, o *Order) {
	h.publish(Event{To: to, Order: o, From: s.origin()})
	q := &h.orders
	q.mu.Lock()
	batch := q.pending
	q.pending = nil
	q.mu.Unlock()
	for _, o := range batch {
		h.applyLocked(o)
	}
}

// nameLost is what Names calls when a member's claim expired.
func (h *Hub) nameLost(holder uint64) {
	h.order(&Order{Kind: OrderNameLost, Member: holder})
}

// applyLocked carries out o for this node's members. Each order checks again what it acts on:
// the member may have left, or changed rooms, since the order was given.
func (h *Hub) applyLocked(o *Order) {
	who := h.liveMember(o.Member)
	if who != nil && who.left {
		who = nil
	}
	switch o.Kind {
	case OrderKick:
		if who != nil {
			h.kickLocked(who, o)
		}
	case OrderMute:
		if o.Account != "" {
			h.muteAccountLocked(o.Account, o.Until)
		}
		if who != nil {
			who.mutedUntil.Store(o.Until.UnixNano())
			h.tellMember(who, fmt.Sprintf("an operator muted you for %v", o.For))
		}
	case OrderUnmute:
		delete(h.accountMutes, o.Account)
		if who != nil {
			who.mutedUntil.Store(0)
			h.tellMember(who, "you may talk again")
		}
	case OrderBan:
		h.banLocked(o.Ban)
	case OrderUnban:
		h.unbanLocked(o.Ban)
	case orderTopicSeen:
		if r := h.liveRoom(o.Room); r != nil {
			r.topic = o.Reason
		}
	case orderRoomSeen:
		if r := h.liveRoom(o.Room); r != nil && h.records != nil {
			if rec, ok := h.records.Lookup(o.Room); ok {
				h.adoptRecordLocked(r, rec)
			} else {
				h.recordGoneLocked(r)
			}
		}
	case orderOwnerLost:
		h.ownerLostLocked(o)
	case OrderNameLost:
		if who != nil {
			h.log.Warn("names: a claim was lost, its member is disconnected", "name", who.name().Display)
			h.dropLocked(who, DropNameLost, "connection lost", "your name could not be kept: the chat lost track of it, please connect again")
		}
	}
}

// kickLocked puts who out of the room o names, or out of the chat.
func (h *Hub) kickLocked(who *member, o *Order) {
	why := "kicked by " + o.By
	because := ""
	if o.Reason != "" {
		because = ": " + o.Reason
	}
	if o.Room == "" {
		h.dropLocked(who, DropKicked, why+because, "you were "+why+because)
		return
	}
	r := h.liveRoom(o.Room)
	if r == nil || !slices.Contains(who.rooms, r) {
		return
	}
	h.partLocked(who, r, &Message{Kind: KindKick, Room: r.name.Display, From: who.name().Display, To: o.By, Text: o.Reason},
		why+because, nil)
	// Said once the member is out, so that a client showing one room at a time shows it in
	// the room the member is now in.
	h.publish(Event{To: who.id, Msg: &Message{Kind: KindKicked, Room: r.name.Display, From: o.By, Text: o.Reason}})
}

func (h *Hub) muteAccountLocked(account string, until time.Time) {
	if h.accountMutes == nil {
		h.accountMutes = make(map[string]time.Time)
	}
	h.accountMutes[account] = until
}

// banLocked keeps the ban b and disconnects this node's members it matches: the wearer of a
// banned name, the devices of a banned network.
func (h *Hub) banLocked(b Ban) {
	if b.Name == "" {
		h.bans.addAddrLocked(b.Address, b.Until)
		for _, who := range h.names.values() {
			for _, d := range who.list() {
				if b.Address.Contains(d.remote) {
					h.dropDeviceLocked(d, DropBanned, "banned", "you are banned from this server")
				}
			}
		}
		return
	}
	n, err := ParseName(b.Name)
	if err != nil {
		return
	}
	h.bans.addNameLocked(n, b.Until)
	if who, online := h.names.find(n); online {
		h.dropLocked(who, DropBanned, "banned", "you are banned from this server")
	}
}

func (h *Hub) unbanLocked(b Ban) {
	if b.Name == "" {
		h.bans.removeAddrLocked(b.Address)
		return
	}
	if n, err := ParseName(b.Name); err == nil {
		h.bans.removeNameLocked(n)
	}
}

// randomUint64 returns 64 random bits.
func randomUint64() uint64 {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand's documentation)
	return binary.LittleEndian.Uint64(b[:])
}
