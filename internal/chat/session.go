package chat

import (
	"errors"
	"fmt"
	"strings"

	"hubbub/internal/safetext"
)

// ErrQuit is returned by Session.Handle when the user asked to leave; the transport flushes
// what is queued and closes the connection.
var ErrQuit = errors.New("user quit")

// Session is one connection's conversation with the hub: first the name, then chat and
// commands. Its methods are called by the goroutine that reads the connection, one at a time.
type Session struct {
	hub    *Hub
	client Client

	name       Name   // set by register; read only by the owner once set
	index      int    // position in hub.members; guarded by hub.mu
	registered bool   // the owner's view of whether register succeeded
	closed     bool   // Close was called
	quitReason string // what the user gave to /quit, for the leave notice
}

// Name returns the member's name, or "" before registration.
func (s *Session) Name() string { return s.name.Display }

// Registered reports whether the user has chosen a name and joined.
func (s *Session) Registered() bool { return s.registered }

// Handle acts on one line the user typed (without its line end). It returns ErrQuit when the
// user leaves.
func (s *Session) Handle(line []byte) error {
	if s.closed {
		return ErrQuit
	}
	if len(line) > 0 && line[0] == '/' {
		if len(line) < 2 || line[1] != '/' {
			return s.command(string(line[1:]))
		}
		line = line[1:] // "//text" says "/text"
	}
	if !s.registered {
		s.chooseName(string(line))
		return nil
	}
	text := safetext.Clean(line)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	s.hub.broadcast(s, &Message{Kind: KindChat, From: s.name.Display, Text: text})
	return nil
}

// Close ends the session: the member leaves and the others are told. It is safe to call more
// than once.
func (s *Session) Close() {
	if s.closed {
		return
	}
	s.closed = true
	if !s.registered {
		return
	}
	s.hub.unregister(s, s.quitReason)
}

func (s *Session) chooseName(typed string) {
	if strings.TrimSpace(typed) == "" {
		return
	}
	n, err := ParseName(typed)
	if err != nil {
		var bad *NameError
		if errors.As(err, &bad) {
			s.notice(bad.Reason + ", please choose other")
		}
		s.client.Deliver(s.hub.prompt)
		return
	}
	if !s.hub.register(s, n) {
		s.client.Deliver(s.hub.nameTaken)
		s.client.Deliver(s.hub.prompt)
		return
	}
	s.registered = true
	s.hub.log.Debug("registered", "name", n.Display)
}

func (s *Session) notice(text string) {
	s.client.Deliver(&Message{Kind: KindNotice, Text: text})
}

func (s *Session) noticef(format string, args ...any) {
	s.notice(fmt.Sprintf(format, args...))
}
