package chat

import "sync/atomic"

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
	// KindJoin says From has joined.
	KindJoin
	// KindLeave says From has left; Text is the reason they gave, if any.
	KindLeave
	// KindChat is a line Text said by From.
	KindChat
	// KindNotice is a server notice (an error, a help line, a reply to a command).
	KindNotice
)

// Message is one thing said to one or many members. It is immutable once sent: the same
// Message goes to every recipient, and each transport encodes it once however many recipients
// it has (see Encoded).
type Message struct {
	Kind Kind
	From string // the name of who it is from or about
	Text string // already safe to show (see safetext)

	encodings atomic.Pointer[encoding]
}

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

// Encoded returns m encoded by enc, encoding it on the first call for that encoder only. It is
// safe to call from many goroutines; the returned bytes must not be modified.
func (m *Message) Encoded(enc Encoder) []byte {
	head := m.encodings.Load()
	for e := head; e != nil; e = e.next {
		if e.enc == enc {
			return e.wire
		}
	}
	wire := enc.Encode(m)
	// Losing a race only means the same bytes were made twice; either copy is correct.
	m.encodings.CompareAndSwap(head, &encoding{enc: enc, wire: wire, next: head})
	return wire
}
