package chat

import (
	"sync/atomic"
	"time"
)

// Kind says what a Message is; transports render each kind in their own way.
type Kind uint8

// The kinds of message the chat sends to a member.
const (
	// KindPrompt asks a new connection for its name.
	KindPrompt Kind = iota
	// KindNameTaken says the name asked for is held by someone online.
	KindNameTaken
	// KindWelcome greets a member who just registered as From.
	KindWelcome
	// KindJoin says From has joined Room.
	KindJoin
	// KindLeave says From has left Room (parted it); Text is why, if anyone said.
	KindLeave
	// KindChat is a line Text said by From in Room.
	KindChat
	// KindAction is From doing Text in Room (/me).
	KindAction
	// KindPrivate is Text sent by From to To alone. The recipient gets it with Sent false, the
	// sender a copy with Sent true.
	KindPrivate
	// KindNick says From is now known as Text.
	KindNick
	// KindTopic says From set the topic of Room to Text (empty: cleared it).
	KindTopic
	// KindNotice is a server notice (an error, a help line, a reply to a command).
	KindNotice
	// KindRooms lists the rooms (Rooms; Total of them), in answer to /rooms.
	KindRooms
	// KindMembers lists the members of Room (Members; Total of them), in answer to /who.
	KindMembers
	// KindCurrent says Room is now where the member's plain lines go. Transports that show
	// one conversation at a time may show nothing for it: a notice says it in words.
	KindCurrent
	// KindSecretPrompt asks for a password (Text says for what): what the user types next
	// should not show. A transport that can turns its echo off.
	KindSecretPrompt
	// KindSecretDone says the password was read: the transport turns its echo back on.
	KindSecretDone
	// KindQuit says From left the chat; Text is why (as shown: "quit: REASON", "kicked by
	// NAME: REASON", "banned"), if anyone said. It comes once to each member who shared a room
	// with From, naming in Room the first of those rooms, for transports that show one.
	KindQuit
	// KindKick says From was put out of Room by To; Text is the reason given, if any.
	KindKick
	// KindKicked tells the member put out of Room that From did it; Text is the reason given,
	// if any. It goes to that member alone, once it is out (the room hears KindKick), so that
	// every transport can say it its own way (a notice in words, IRC's KICK).
	KindKicked
	// KindAway says From is away for Text now, or back ("" Text). It goes to each member who
	// shares a room with From (its own devices too), for transports that show who is away as
	// it changes (IRC's away-notify); others may show nothing.
	KindAway
	// KindOwner says From owns Room now (its owner left, or its node died). It goes to the
	// room's members, the new owner too, for transports that show who may moderate (IRC's
	// MODE +o); the new owner is also told in words.
	KindOwner
)

// RoomInfo is one room in a KindRooms list.
type RoomInfo struct {
	Name    string
	Members int
	Topic   string
}

// MemberInfo is one member in a KindMembers list.
type MemberInfo struct {
	Name     string
	Owner    bool
	Operator bool
	Away     string // why, when away
}

// Message is one thing said to one or many members. It is immutable once sent: the same
// Message goes to every recipient, and each transport encodes it once however many recipients
// it has (see Encoded).
type Message struct {
	Kind Kind
	Room string // the room's display name ("#go"), for kinds that happen in a room
	From string // the name of who it is from or about
	To   string // the recipient of a private message
	Text string // already safe to show (see safetext)

	// Elsewhere marks a room line going to members whose current room is another, so that a
	// transport that shows one room at a time can say where it comes from.
	Elsewhere bool
	// Narration marks a notice that only says in words what typed messages or the answers to
	// the member's own calls say too (where its plain lines go now, the topic of a room it
	// joined, the rooms a new device is in, the MOTD, goodbye, why it is disconnected), for
	// terminals that show nothing else. A transport that renders those itself (IRC) leaves
	// it out.
	Narration bool
	// Sent marks the sender's own copy: of a private message, or of a room line the member said
	// from another of its devices.
	Sent bool
	// Notice marks a room line (KindChat) or a private message said as a notice (IRC's NOTICE,
	// Session.SayNotice, PrivateNotice), which programs must never answer automatically: a
	// transport that has notices shows it as one, others as any line. History does not keep
	// the mark: replayed, it is a line.
	Notice bool
	// History marks a line replayed from history; ID and Time say which and when. Lines said
	// now carry ID and Time too when history is kept, for transports that show them.
	History bool
	ID      int64
	Time    time.Time

	Rooms   []RoomInfo   // KindRooms
	Members []MemberInfo // KindMembers
	Total   int          // KindRooms, KindMembers: how many there are, listed or not

	formats   [maxFormats]atomic.Pointer[[]byte] // by Format.slot
	encodings atomic.Pointer[encoding]           // by any other Encoder
}

// Skippable reports whether m may be left out for a member who reads slower than the room
// talks: what is said in a room as it happens (lines, actions, joins, leaves, nick and topic
// changes, who is away), which the member can catch up on with /history. Private messages (see
// PrivateFrom), notices, answers to the member's own commands and replayed history never are.
func (m *Message) Skippable() bool {
	if m.History {
		return false
	}
	switch m.Kind {
	case KindChat, KindAction, KindJoin, KindLeave, KindQuit, KindKick, KindNick, KindTopic, KindAway:
		return true
	}
	return false
}

// PrivateFrom reports whether m is a private message as its recipient gets it when it is sent
// (not the sender's own copy, which answers the sender's command, nor history), and who sent
// it. Others can send a member these without end, so a transport may skip them too, oldest
// first, for a reader that falls far behind (past its hard cap), as long as it tells the
// reader whose they were: with ID set the message is kept in history, and /history From reads
// it back; without, it is kept nowhere and is lost.
func (m *Message) PrivateFrom() (from string, ok bool) {
	if m.Kind != KindPrivate || m.Sent || m.History {
		return "", false
	}
	return m.From, true
}

// Lobby is the display name of the room everyone starts in.
const Lobby = "#lobby"

// Encoder turns a Message into one transport's wire bytes. Transports use one comparable value
// (a pointer) per wire format, so that Encoded can cache by it.
type Encoder interface {
	Encode(m *Message) []byte
}

type encoding struct {
	enc  Encoder
	wire []byte
	next *encoding
}

// A Format is an Encoder whose encodings every Message keeps in a slot of its own: for a
// transport's main wire format, which nearly every message delivered is encoded by, and looked
// up in once per device it is delivered to. Finding an encoding among a message's others costs
// an interface comparison each (about a sixth of a room line's fan-out). There are maxFormats
// slots, taken by the first Formats made: make them once, as package variables; a Format made
// when none is left works as any Encoder.
type Format struct {
	Encoder
	slot int // -1: none
}

// maxFormats is how many Formats have a slot: the line door's, IRC's two, the WebSocket's.
const maxFormats = 4

var formatSlots atomic.Int32

// NewFormat returns enc as a Format.
func NewFormat(enc Encoder) *Format {
	slot := int(formatSlots.Add(1)) - 1
	if slot >= maxFormats {
		slot = -1
	}
	return &Format{Encoder: enc, slot: slot}
}

// Encoded returns m encoded by enc, encoding it on the first call for that encoder only. It is
// safe to call from many goroutines; the returned bytes must not be modified.
func (m *Message) Encoded(enc Encoder) []byte {
	if f, ok := enc.(*Format); ok && f.slot >= 0 {
		slot := &m.formats[f.slot]
		if wire := slot.Load(); wire != nil {
			return *wire
		}
		wire := f.Encode(m)
		// Losing a race only means the same bytes were made twice; either copy is correct.
		slot.CompareAndSwap(nil, &wire)
		return wire
	}
	head := m.encodings.Load()
	for e := head; e != nil; e = e.next {
		if e.enc == enc {
			return e.wire
		}
	}
	wire := enc.Encode(m)
	m.encodings.CompareAndSwap(head, &encoding{enc: enc, wire: wire, next: head})
	return wire
}
