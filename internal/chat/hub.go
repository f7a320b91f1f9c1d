// Package chat is the chat domain: who is online under which name, in which rooms, and what
// they say to each other. It knows nothing about sockets: a transport (TCP lines, later
// WebSocket or IRC) calls Hub.Connect for each connection, feeds it the lines the user types,
// and delivers the Messages the chat hands to its Client.
//
// Locking: Hub.mu guards who is registered, who is in which room, and each member's state that
// others read (see Session). Joins, leaves, nick changes and topic changes are announced while
// it is held, so that everyone hears of them in one order. Chat lines are not: a room's member
// list is copied on write, and a line goes to the list as it was when it was said, with no lock
// held, so that a busy room never waits for a join. Client.Deliver and Client.Drop never block,
// so calling them under Hub.mu is safe; the lock order is Hub.mu, then whatever locks the
// transport takes inside them, so a transport must not call into the chat while holding one.
// The lock that bounds /oper guesses (operGuard.mu) is a leaf, taken without Hub.mu.
package chat

import (
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one connection as the chat sees it; each transport implements it.
type Client interface {
	// Deliver queues m for the connection and returns at once. It must never block on the
	// network: a client that cannot keep up closes itself (the transport decides how). Messages
	// delivered from one goroutine must reach the user in the order they were delivered.
	Deliver(m *Message)
	// Drop ends the connection from the server's side (a kick or a ban): what was delivered is
	// still sent, then the connection closes. reason is one of a few values, fit for a metric
	// label; detail is what the user was told, free text for the log and for a transport that
	// can say why it closes (a WebSocket close frame), never for a label. It must not block.
	Drop(reason DropReason, detail string)
}

// DropReason says why the chat ends a connection.
type DropReason string

// The reasons the chat ends a connection.
const (
	DropKicked DropReason = "kicked"
	DropBanned DropReason = "banned"
)

// Config configures the chat.
type Config struct {
	MaxRoomsPerUser int              // rooms one user may be in at once
	OperPassword    string           // what /oper takes; empty: nobody can become an operator
	MOTD            []string         // the message of the day, shown after the welcome
	FloodMute       time.Duration    // how long a user who keeps flooding is muted
	Now             func() time.Time // the clock; nil means time.Now

	// History keeps what is said; nil: nothing is kept (no replay, /history or /search).
	History History
	// Replay is how many of a room's last lines a member is shown on joining it.
	Replay int

	// AnswerBytes bounds one answer to a user's own request (/history, the replay on joining a
	// room), in bytes of text: a longer one is paged, and says how to get the rest, so that
	// what a user asked for fits the transport's queue and is never a reason to drop them.
	// 0: DefaultAnswerBytes.
	AnswerBytes int

	// Observer is told what the chat does, for metrics; nil: nobody.
	Observer Observer

	// Accounts keeps registered names and their passwords; nil: accounts are off, everyone
	// is a guest.
	Accounts Accounts
}

// DefaultAnswerBytes is Config.AnswerBytes by default: a quarter of the line transport's
// default queue.
const DefaultAnswerBytes = 64 << 10

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config {
	return Config{MaxRoomsPerUser: 10, FloodMute: time.Minute, Replay: 20,
		AnswerBytes: DefaultAnswerBytes}
}

// ErrBanned is returned by Connect for a connection from a banned address.
var ErrBanned = errors.New("banned")

// Hub is the chat: its members, its rooms and their rules.
type Hub struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	// Messages that are the same for everyone, so that each is encoded only once.
	prompt    *Message
	nameTaken *Message

	commands []command
	reserved []Name // names nobody may take

	// testHookWelcomed, when set, is called under mu once a new member has been welcomed.
	testHookWelcomed func(name string)

	storeErrorLogged atomic.Int64 // when a failure to store was last logged, in unix nanoseconds
	oper             *operGuard   // bounds /oper guesses
	observer         Observer
	hashSlots        chan struct{} // one per password hash or verify running (see hashSlots)
	logins           *loginGuard   // slows password guessing

	mu    sync.Mutex
	names nameIndex[*Session] // registered members; guarded by mu
	rooms nameIndex[*Room]    // rooms with members; guarded by mu
	lobby *Room               // always exists
	bans  bans                // guarded by mu
	users int                 // registered members; guarded by mu
	// Rooms whose replay is being read from history, by key; guarded by mu.
	loading map[string]*pendingLoad
}

// NewHub returns a chat with an empty lobby that logs to log.
func NewHub(cfg Config, log *slog.Logger) *Hub {
	h := &Hub{
		cfg:       cfg,
		log:       log,
		now:       cfg.Now,
		prompt:    &Message{Kind: KindPrompt},
		nameTaken: &Message{Kind: KindNameTaken},
		commands:  commandTable(),
		oper:      newOperGuard(log),
		observer:  cfg.Observer,
		hashSlots: make(chan struct{}, hashSlots),
		logins:    newLoginGuard(),
	}
	if h.observer == nil {
		h.observer = noObserver{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.cfg.MaxRoomsPerUser = max(h.cfg.MaxRoomsPerUser, 1)
	if h.cfg.AnswerBytes <= 0 {
		h.cfg.AnswerBytes = DefaultAnswerBytes
	}
	for _, word := range reservedNames {
		h.reserve(word)
	}
	for _, c := range h.commands {
		h.reserve(c.name)
	}
	lobby, _ := ParseRoom(Lobby)
	h.lobby = newRoom(lobby)
	h.rooms.add(lobby, h.lobby)
	return h
}

func (h *Hub) reserve(word string) {
	if n, err := ParseName(word); err == nil {
		h.reserved = append(h.reserved, n)
	}
}

// isReserved reports whether n is a reserved name or looks like one (see reservedNames): only
// user names are checked, rooms may be called anything.
func (h *Hub) isReserved(n Name) bool {
	forms := n.reservedForms()
	if hasReservedStem(forms) {
		return true
	}
	for _, r := range h.reserved {
		if slices.Contains(forms, reservedForm(r)) { // n.SameAs(r) implies this
			return true
		}
	}
	return false
}

// Connect starts the conversation with a new connection from remote: it asks for a name. The
// transport then passes each line the user types to the returned Session's Handle, and calls
// Close when the connection ends. For a banned address it says so and returns ErrBanned, and
// the transport closes the connection once that is sent.
func (h *Hub) Connect(c Client, remote netip.Addr) (*Session, error) {
	remote = remote.Unmap() // bans are of IPv4 networks, whatever the listener's family
	s := &Session{hub: h, client: c, remote: remote, connected: h.now()}
	h.mu.Lock()
	banned := h.bans.addrBannedLocked(remote, h.now())
	h.mu.Unlock()
	if banned {
		s.closed = true
		s.notice("you are banned from this server")
		return s, ErrBanned
	}
	c.Deliver(h.prompt)
	return s, nil
}

// MOTD returns the message of the day.
func (h *Hub) MOTD() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg.MOTD
}

// SetMOTD changes the message of the day shown to whoever registers from now on.
func (h *Hub) SetMOTD(lines []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg.MOTD = lines
}

// Counts returns how many members are registered and how many rooms there are.
func (h *Hub) Counts() (users, rooms int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users, len(h.rooms.values())
}

// lockLive takes h.mu if s is still a member and reports whether it did: a session that was
// kicked or banned by someone else must not act any more.
func (h *Hub) lockLive(s *Session) bool {
	h.mu.Lock()
	if s.gone || !s.registered {
		h.mu.Unlock()
		return false
	}
	return true
}

// register makes s the member called n, unless someone online holds a name that looks the
// same, puts it in the lobby and tells the others.
func (h *Hub) register(s *Session, n Name) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bans.nameBannedLocked(n, h.now()) {
		return errNameBanned
	}
	if _, taken := h.names.find(n); taken {
		return errNameTaken
	}
	h.names.add(n, s)
	h.users++
	s.name = n
	s.registered = true
	// s is in the lobby before its welcome is queued, so that a line said once the welcome can
	// be seen reaches s too; such a line waits for s.welcoming (see Room.say), so that the
	// welcome is still the first thing s hears after the prompt.
	s.welcoming.Lock()
	defer s.welcoming.Unlock()
	h.lobby.addLocked(s)
	s.client.Deliver(&Message{Kind: KindWelcome, From: n.Display})
	for _, line := range h.cfg.MOTD {
		s.notice(line)
	}
	if h.testHookWelcomed != nil {
		h.testHookWelcomed(n.Display)
	}
	h.enterLocked(s, h.lobby)
	s.welcomed.Store(true)
	return nil
}

var (
	errNameTaken  = errors.New("name taken")
	errNameBanned = errors.New("name banned")
)

// unregisterLocked removes s from the chat, telling everyone who shares a room with it that it
// left, for reason. It does nothing for a session already gone.
func (h *Hub) unregisterLocked(s *Session, reason string) {
	if s.gone || !s.registered {
		return
	}
	s.gone = true
	h.users--
	h.names.remove(s.name, s)
	rooms := s.rooms
	s.rooms = nil
	s.current.Store(nil)
	told := h.told(rooms)
	for _, r := range rooms {
		r.removeLocked(s)
		h.tellRoomLocked(r, s, told, &Message{Kind: KindLeave, Room: r.name.Display, From: s.name.Display, Text: reason})
		h.note(KindLeave, r, s, reason)
		h.roomLeftLocked(r, s)
	}
}

// told returns the set that tellRoomLocked uses to tell each member once about something that
// happens in several rooms, or nil when there is only one room.
func (h *Hub) told(rooms []*Room) map[*Session]bool {
	if len(rooms) < 2 {
		return nil
	}
	return make(map[*Session]bool)
}

// tellRoomLocked delivers m to the members of r except about, skipping those in told (when not
// nil) and adding them to it.
func (h *Hub) tellRoomLocked(r *Room, about *Session, told map[*Session]bool, m *Message) {
	for _, member := range r.list() {
		if member == about {
			continue
		}
		if told != nil {
			if told[member] {
				continue
			}
			told[member] = true
		}
		member.client.Deliver(m)
	}
}

// roomLeftLocked tidies up after s left r: an empty room goes away, and a room whose owner
// left passes to the member who has been there longest.
func (h *Hub) roomLeftLocked(r *Room, s *Session) {
	members := r.list()
	if len(members) == 0 && r != h.lobby {
		h.rooms.remove(r.name, r)
		if p := h.loading[r.key()]; p != nil {
			// Someone is reading its replay to make it again, perhaps from before its last
			// lines were stored: they are passed on.
			p.late = append(p.late, r.recent...)
		}
		return
	}
	if r.owner == s {
		r.owner = nil
		if r != h.lobby && len(members) > 0 {
			r.owner = members[0]
			r.owner.notice("you now own " + r.name.Display)
		}
	}
}

// joinLocked puts registered member s in room r, makes r its current room and tells the
// room's other members.
func (h *Hub) joinLocked(s *Session, r *Room) {
	r.addLocked(s)
	h.enterLocked(s, r)
}

// enterLocked does what joining r means for s, once s is among r's members.
func (h *Hub) enterLocked(s *Session, r *Room) {
	s.rooms = append(s.rooms, r)
	s.setCurrent(r)
	h.tellRoomLocked(r, s, nil, &Message{Kind: KindJoin, Room: r.name.Display, From: s.name.Display})
	h.note(KindJoin, r, s, "")
	h.replayLocked(s, r)
	if r.topic != "" {
		s.noticef("topic for %s: %s", r.name.Display, r.topic)
	}
}

// partLocked takes s out of room r, telling its members why (reason may be empty). A member
// left in no room goes back to the lobby; one whose current room this was moves to the room
// it joined last.
func (h *Hub) partLocked(s *Session, r *Room, reason string) {
	r.removeLocked(s)
	s.rooms = removeRoom(s.rooms, r)
	h.tellRoomLocked(r, s, nil, &Message{Kind: KindLeave, Room: r.name.Display, From: s.name.Display, Text: reason})
	h.note(KindLeave, r, s, reason)
	h.roomLeftLocked(r, s)
	if len(s.rooms) == 0 {
		h.joinLocked(s, h.lobby)
		s.noticef("now talking in %s", h.lobby.name.Display)
		return
	}
	if s.current.Load() == r {
		next := s.rooms[len(s.rooms)-1]
		s.setCurrent(next)
		s.noticef("now talking in %s", next.name.Display)
	}
}

func removeRoom(rooms []*Room, r *Room) []*Room {
	out := rooms[:0]
	for _, x := range rooms {
		if x != r {
			out = append(out, x)
		}
	}
	return out
}

// findLocked returns the member called name (or a name that looks the same).
func (h *Hub) findLocked(name string) (*Session, bool) {
	n, err := ParseName(name)
	if err != nil {
		return nil, false
	}
	return h.names.find(n)
}

// nameIndex finds values by any of a name's skeletons, so that a name and its look-alikes
// are one entry.
type nameIndex[T comparable] struct {
	m map[string]T
}

func (x *nameIndex[T]) add(n Name, v T) {
	if x.m == nil {
		x.m = make(map[string]T)
	}
	for _, k := range n.looks {
		x.m[k] = v
	}
}

// remove removes n's entry if it is v (a look-alike's entry stays).
func (x *nameIndex[T]) remove(n Name, v T) {
	for _, k := range n.looks {
		if x.m[k] == v {
			delete(x.m, k)
		}
	}
}

func (x *nameIndex[T]) find(n Name) (T, bool) {
	for _, k := range n.looks {
		if v, ok := x.m[k]; ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// values returns each entry once.
func (x *nameIndex[T]) values() []T {
	seen := make(map[T]bool)
	var out []T
	for _, v := range x.m {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
