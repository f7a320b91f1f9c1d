package chat

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"hubbub/internal/safetext"
)

// ErrQuit is returned by Session.Handle when the user asked to leave; the transport flushes
// what is queued and closes the connection.
var ErrQuit = errors.New("user quit")

// repeatWindow is how soon a line must follow the same line to be collapsed into a count.
const repeatWindow = 10 * time.Second

// Session is one connection's conversation with the hub: first the name, then chat and
// commands. Handle and Close are called by the goroutine that reads the connection, one at a
// time; other members' goroutines read and change the fields guarded by hub.mu.
type Session struct {
	hub       *Hub
	client    Client
	remote    netip.Addr
	connected time.Time

	// Used only by the reading goroutine.
	closed     bool   // Close was called
	quitReason string // what the user gave to /quit, for the leave notice
	operTries  int    // wrong /oper passwords so far
	repeat     repeatState
	search     searchState // where /search goes on from (history.go)

	// Guarded by hub.mu. The reading goroutine, the only one that changes name and
	// registered, may read them without it.
	registered bool
	name       Name
	gone       bool     // removed from the chat (quit, kicked, banned)
	rooms      []*Room  // rooms joined, in the order joined
	away       string   // why the member is away; "" when not
	oper       bool     // the member is an operator
	lastFrom   *Session // who sent the last private message, for /reply
	// The oldest line of history shown, per room and per private conversation (by the other
	// party's key), so that /history goes on from there.
	historyFrom map[*Room]int64
	privateFrom map[string]int64

	// Read with no lock by whoever sends to this member.
	current    atomic.Pointer[Room]                  // where plain lines go; nil when gone
	ignored    atomic.Pointer[map[*Session]struct{}] // members whose lines are not delivered; copied on write under hub.mu
	mutedUntil atomic.Int64                          // unix nanoseconds; lines are refused before it
}

// repeatState collapses a line said again and again into one count.
type repeatState struct {
	room  *Room
	kind  Kind
	text  string
	at    time.Time
	count int // times said again since it was delivered
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
	s.say(KindChat, text)
	return nil
}

// Close ends the session: the member leaves and the others are told. It is safe to call more
// than once, and after the member was kicked.
func (s *Session) Close() {
	s.closed = true
	if !s.registered {
		return
	}
	s.hub.mu.Lock()
	s.hub.unregisterLocked(s, s.quitReason)
	s.hub.mu.Unlock()
}

// Flooding is called by the transport when the user has gone on sending faster than the line
// rate for too long: the member is muted for a while (Config.FloodMute), and told so.
func (s *Session) Flooding() {
	if !s.registered || s.muted() > 0 || s.hub.cfg.FloodMute <= 0 {
		return
	}
	s.mutedUntil.Store(s.hub.now().Add(s.hub.cfg.FloodMute).UnixNano())
	s.noticef("you are sending too fast: muted for %v", s.hub.cfg.FloodMute)
	s.hub.log.Info("flooding user muted", "name", s.name.Display, "for", s.hub.cfg.FloodMute)
}

// muted returns how long the member remains muted.
func (s *Session) muted() time.Duration {
	until := s.mutedUntil.Load()
	if until == 0 {
		return 0
	}
	return max(time.Unix(0, until).Sub(s.hub.now()), 0)
}

// refuseIfMuted tells a muted member so and reports whether it is.
func (s *Session) refuseIfMuted() bool {
	left := s.muted()
	if left <= 0 {
		return false
	}
	s.noticef("you are muted for another %v", left.Round(time.Second))
	return true
}

// setCurrent makes r where the member's plain lines go, and tells its client.
func (s *Session) setCurrent(r *Room) {
	s.current.Store(r)
	s.client.Deliver(&Message{Kind: KindCurrent, Room: r.name.Display})
}

// ignores reports whether s does not want to hear from.
func (s *Session) ignores(from *Session) bool {
	m := s.ignored.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[from]
	return ok
}

// say says text (a chat line or a /me action) in the member's current room. A line that
// repeats the one before within repeatWindow is counted instead of sent, and the count is
// said before the next different line.
func (s *Session) say(kind Kind, text string) {
	room := s.current.Load()
	if room == nil || s.refuseIfMuted() {
		return
	}
	now := s.hub.now()
	rep := &s.repeat
	if rep.room == room && rep.kind == kind && rep.text == text && now.Sub(rep.at) < repeatWindow {
		rep.count++
		rep.at = now
		return
	}
	if rep.count > 0 && rep.room == room {
		times := "times"
		if rep.count == 1 {
			times = "time"
		}
		s.sayIn(room, KindChat, fmt.Sprintf("(previous line repeated %d %s)", rep.count, times))
	}
	*rep = repeatState{room: room, kind: kind, text: text, at: now}
	s.sayIn(room, kind, text)
}

// sayIn says text in room: at once, or, when history is kept, once it is stored.
func (s *Session) sayIn(room *Room, kind Kind, text string) {
	h := s.hub
	if h.cfg.History == nil {
		room.say(s, &Message{Kind: kind, Room: room.name.Display, From: s.name.Display, Text: text})
		return
	}
	rec := Record{Time: h.now(), Kind: kind, Room: room.key(), RoomName: room.name.Display,
		From: s.name.Display, FromKey: s.name.looks[0], Text: text}
	h.cfg.History.Store(rec, func(rec Record, err error) {
		if err != nil {
			s.storeFailed(err)
			return
		}
		// Delivered under the lock, so that whoever joins the room either gets the line here
		// or finds it in the room's memory when joining.
		h.mu.Lock()
		defer h.mu.Unlock()
		room.say(s, liveMessage(rec))
		h.rememberLocked(room, rec)
	})
}

func (s *Session) chooseName(typed string) {
	if strings.TrimSpace(typed) == "" {
		return
	}
	n, err := ParseName(typed)
	if err == nil && s.hub.isReserved(n) {
		err = badName("that name is reserved")
	}
	if err != nil {
		var bad *NameError
		if errors.As(err, &bad) {
			s.notice(bad.Reason + ", please choose other")
		}
		s.client.Deliver(s.hub.prompt)
		return
	}
	switch err := s.hub.register(s, n); {
	case errors.Is(err, errNameBanned):
		s.notice("that name is banned, please choose other")
		s.client.Deliver(s.hub.prompt)
	case err != nil:
		s.client.Deliver(s.hub.nameTaken)
		s.client.Deliver(s.hub.prompt)
	default:
		s.hub.log.Debug("registered", "name", n.Display)
	}
}

func (s *Session) notice(text string) {
	s.client.Deliver(&Message{Kind: KindNotice, Text: text})
}

func (s *Session) noticef(format string, args ...any) {
	s.notice(fmt.Sprintf(format, args...))
}
