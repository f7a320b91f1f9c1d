// Package chat is the chat domain: who is online under which name, and what they say to each
// other. It knows nothing about sockets: a transport (TCP lines, later WebSocket or IRC) calls
// Hub.Connect for each connection, feeds it the lines the user types, and delivers the
// Messages the chat hands to its Client.
package chat

import (
	"log/slog"
	"sync"
	"sync/atomic"
)

// Client is one connection as the chat sees it; each transport implements it.
type Client interface {
	// Deliver queues m for the connection and returns at once. It must never block on the
	// network: a client that cannot keep up closes itself (the transport decides how). Messages
	// delivered from one goroutine must reach the user in the order they were delivered.
	Deliver(m *Message)
}

// Hub is the single channel of the original chat: every registered member hears every line.
type Hub struct {
	log *slog.Logger

	// Messages that are the same for everyone, so that each is encoded only once.
	prompt    *Message
	nameTaken *Message

	commands []command

	mu    sync.Mutex
	byKey map[string]*Session // registered members by Name.Key; guarded by mu

	// members is the registered members, replaced (copy on write) under mu, so that a
	// broadcast reads it with no lock and never waits for a join or a leave.
	members atomic.Pointer[[]*Session]
}

// NewHub returns an empty hub that logs to log.
func NewHub(log *slog.Logger) *Hub {
	h := &Hub{
		log:       log,
		prompt:    &Message{Kind: KindPrompt},
		nameTaken: &Message{Kind: KindNameTaken},
		byKey:     make(map[string]*Session),
		commands:  commandTable(),
	}
	h.members.Store(&[]*Session{})
	return h
}

// Connect starts the conversation with a new connection: it asks for a name. The transport
// then passes each line the user types to the returned Session's Handle, and calls Close when
// the connection ends.
func (h *Hub) Connect(c Client) *Session {
	s := &Session{hub: h, client: c, index: -1}
	c.Deliver(h.prompt)
	return s
}

// register makes s the member called n, unless someone online holds that name, and tells the
// others. The announcement is made under the lock, so that joins and leaves reach everyone in
// one order: nobody hears of a join that happened before their own.
func (h *Hub) register(s *Session, n Name) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, taken := h.byKey[n.Key]; taken {
		return false
	}
	h.byKey[n.Key] = s
	s.name = n
	// The welcome is queued before s can be seen by any broadcast, so it is the first thing
	// s hears after the prompt.
	s.client.Deliver(&Message{Kind: KindWelcome, From: n.Display})
	old := *h.members.Load()
	members := make([]*Session, len(old), len(old)+1)
	copy(members, old)
	s.index = len(members)
	members = append(members, s)
	h.members.Store(&members)
	h.broadcast(s, &Message{Kind: KindJoin, From: n.Display})
	return true
}

// unregister removes s, which must be registered, and tells the others that it left for
// reason.
func (h *Hub) unregister(s *Session, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.byKey, s.name.Key)
	old := *h.members.Load()
	members := make([]*Session, 0, len(old)-1)
	members = append(members, old[:s.index]...)
	members = append(members, old[s.index+1:]...)
	for i := s.index; i < len(members); i++ {
		members[i].index = i
	}
	s.index = -1
	h.members.Store(&members)
	h.broadcast(s, &Message{Kind: KindLeave, From: s.name.Display, Text: reason})
}

// broadcast delivers m to every registered member except from.
func (h *Hub) broadcast(from *Session, m *Message) {
	for _, s := range *h.members.Load() {
		if s != from {
			s.client.Deliver(m)
		}
	}
}
