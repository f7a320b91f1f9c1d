// Package chat is the chat domain: who is online under which name, in which rooms, and what
// they say to each other. It knows nothing about sockets: a transport (TCP lines, WebSocket,
// later IRC) calls Hub.Connect for each connection, feeds it the lines the user types (or calls
// the typed API: Session.Join, Say, Private, ...), and delivers the Messages the chat hands to
// its Client. docs/architecture.md draws the whole path.
//
// Locking: Hub.mu guards who is in the chat, who is in which room, and each member's state that
// others read (see Session and member). Room events (lines, joins, parts, kicks, topics, nick
// changes, quits) go through the Bus, which gives each room one order: the in-process bus
// delivers an event under its room's sequencer lock, and membership changes are published
// under Hub.mu, so everyone hears of them in one order with the lines. Chat lines are published
// with no hub lock, so that a busy room never waits for a join; deliver reads only what is
// copied on write or atomic. Client.Deliver and Client.Drop never block, so calling them under
// these locks is safe; the order is Hub.mu, then a room's sequencer, then a device's earlyMu,
// then whatever the transport takes inside Deliver, so a transport must not call into the chat
// while holding one. The locks that bound guessing (operGuard, loginGuard, registrations,
// hashRates) and the in-process Names are leaves.
package chat

import (
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
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
	// DropLoggedOut: the account's owner ended this device's session (/logout, /unregister).
	DropLoggedOut DropReason = "logged_out"
	// DropNameLost: the member's name could not be kept (a cluster's registry lost its claim).
	DropNameLost DropReason = "name_lost"
)

// Config configures the chat.
type Config struct {
	MaxRoomsPerUser int              // rooms one user may be in at once
	OperPassword    string           // what /oper takes; empty: nobody can become an operator
	MOTD            []string         // the message of the day, shown after the welcome
	FloodMute       time.Duration    // how long a user who keeps flooding is muted
	Now             func() time.Time // the clock; nil means time.Now

	// History keeps what is said; nil: nothing is kept (no replay, /history or /search).
	History Lines
	// Bans keeps the bans across restarts; nil: they last until the server stops.
	Bans BanList
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
	// AccountsRequired: only accounts may enter; choosing a name that has none registers it.
	AccountsRequired bool
	// MaxSessionsPerAccount is how many devices one account may be connected from at once;
	// 0: no limit.
	MaxSessionsPerAccount int
	// Operators names the accounts that are operators (besides those the store marks so).
	Operators []string
	// NoPrivateHistory: private messages are kept nowhere, also between accounts.
	NoPrivateHistory bool

	// NewBus makes the Bus the hub publishes its events on, given the function that shows an
	// event to this node's members; nil: an in-process bus (a single node).
	NewBus func(deliver func(Event)) Bus
	// NewNames makes the registry of names the hub claims in, given the function to call when
	// a member's claim is lost (it expired: the member is disconnected, since someone else may
	// hold the name now); nil: an in-process registry (a single node).
	NewNames func(lost func(holder uint64)) Names
	// HistoryBehind says how many events of other nodes this node's history has not indexed
	// yet (a node of a cluster catching up after being down); /history and /search say so
	// while it is not 0. nil: never behind.
	HistoryBehind func() uint64
	// NewRooms makes the cluster's record of rooms' owners and topics, given the function to
	// call when a room's record changed; nil: rooms are this node's alone (a single node).
	NewRooms func(changed func(room string)) Rooms
	// Mutes keeps the mutes of accounts across restarts, for every node; nil: in memory.
	Mutes MuteList

	// AnnounceLimit is how many members a room may have before it is large (see large.go):
	// above it, ordinary members' joins, leaves and quits are not told to the room, and /who
	// and the names a client is sent on joining are bounded. 0: every room announces all.
	AnnounceLimit int
}

// DefaultAnswerBytes is Config.AnswerBytes by default: a quarter of the line transport's
// default queue.
const DefaultAnswerBytes = 64 << 10

// DefaultConfig returns the defaults documented in --help.
func DefaultConfig() Config {
	return Config{MaxRoomsPerUser: 10, FloodMute: time.Minute, Replay: 20,
		AnswerBytes: DefaultAnswerBytes, MaxSessionsPerAccount: 5, AnnounceLimit: DefaultAnnounceLimit}
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
	registrations    registrations // bounds registrations per address
	hashRates        hashRates     // bounds the hashes each address causes

	bus    Bus
	claims Names // who holds which name, on every node
	// records is the cluster's record of rooms' owners and topics; nil on a single node.
	records Rooms
	// presenceShared: claims keeps what members look like for other nodes (Names.Update); a
	// single node's does not, and is spared making it at every join.
	presenceShared bool
	nextID         atomic.Uint64 // the last number given to a member or a device
	roomsByKey     sync.Map      // room key → *Room, for deliver, which takes no lock; written under mu
	membersByID    sync.Map      // member id → *member, for deliver; written under mu

	mu    sync.Mutex
	names nameIndex[*member] // members, by name; guarded by mu
	// Members logged in to an account, by the account's ID (never reused, unlike a name:
	// an account deleted and registered again by someone else is someone else); guarded by mu.
	byAccount map[int64]*member
	rooms     nameIndex[*Room] // rooms with members; guarded by mu
	lobby     *Room            // always exists
	bans      bans             // guarded by mu
	// Mutes of accounts, by account name: a muted account stays muted when it reconnects.
	// Guarded by mu.
	accountMutes map[string]time.Time
	users        int // members (people, not devices); guarded by mu
	// Rooms whose replay is being read from history, by key; guarded by mu.
	loading map[string]*pendingLoad
	// making holds a makingRoom for each member of this node claiming a room's record now,
	// between its claim and the room's making under mu (see roomStale).
	making sync.Map
	// claiming holds the *roomClaim in flight for a room key, which joiners of the same room
	// wait for rather than claiming it again.
	claiming sync.Map

	orders orders // moderation the bus delivered, to carry out under mu

	tally roomTally // members of other nodes per room, as this node last counted them; guarded by mu
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
	if cfg.NewBus != nil {
		h.bus = cfg.NewBus(h.deliver)
	} else {
		b := newLocalBus(h.deliver)
		b.deliverLines = h.deliverLines
		h.bus = b
	}
	if cfg.NewNames != nil {
		h.claims, h.presenceShared = cfg.NewNames(h.nameLost), true
	} else {
		h.claims = &localNames{}
	}
	// Numbers start at random, so that members and devices of every node of a cluster have
	// numbers of their own: 62 random bits leave room to count up without two nodes meeting.
	h.nextID.Store(randomUint64() >> 2)
	h.addRoomLocked(h.lobby)
	if cfg.NewRooms != nil {
		// Under the lock: the store's watcher may tell of a change at once, and the order
		// that carries it out reads h.records holding the lock.
		h.mu.Lock()
		h.records = cfg.NewRooms(h.roomChanged)
		if rec, ok := h.records.Lookup(h.lobby.key()); ok {
			h.adoptRecordLocked(h.lobby, rec) // its topic, set before this node started
		}
		h.mu.Unlock()
	}
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

// Peer is what a transport knows of a new connection.
type Peer struct {
	Addr netip.Addr // where it comes from: bans and the limits on guessing go by it
	// Account is the account the transport has seen the user prove (the web page's login
	// cookie), "" when none: the user then chooses a name at the prompt. Token names that
	// proof, so that /logout can keep this device's.
	Account string
	Token   string
}

// Connect starts the conversation with a new connection: it asks for a name, or, for a peer
// whose Account is set, enters the chat at once under the account's name. The transport then
// passes each line the user types to the returned Session's Handle, and calls Close when the
// connection ends. For a banned address it says so and returns ErrBanned, and the transport
// closes the connection once that is sent. For a peer whose account is gone (or when accounts
// are off) it returns ErrNoAccount having said nothing: the transport forgets the proof and
// connects the user again with no Account.
func (h *Hub) Connect(c Client, p Peer) (*Session, error) {
	var acc Account
	var n Name
	if p.Account != "" {
		var err error
		if n, err = ParseName(p.Account); err != nil {
			return nil, ErrNoAccount
		}
		found, has, err := h.findAccount(n)
		if err != nil {
			return nil, err
		}
		if !has || found.Name != p.Account {
			return nil, ErrNoAccount
		}
		acc = found
	}
	remote := p.Addr.Unmap() // bans are of IPv4 networks, whatever the listener's family
	s := &Session{hub: h, client: c, remote: remote, connected: h.now(), token: p.Token, id: h.nextID.Add(1)}
	h.mu.Lock()
	banned := h.bans.addrBannedLocked(remote, h.now())
	h.mu.Unlock()
	if banned {
		s.closed = true
		s.narrate("you are banned from this server")
		return s, ErrBanned
	}
	if p.Account != "" {
		s.enter(n, &acc)
		return s, nil
	}
	c.Deliver(h.prompt)
	return s, nil
}

// isOperatorAccount reports whether Config.Operators names the account; under mu.
func (h *Hub) isOperatorAccount(account string) bool {
	n, err := ParseName(account)
	if err != nil {
		return false
	}
	for _, o := range h.cfg.Operators {
		if on, err := ParseName(o); err == nil && on.SameAs(n) {
			return true
		}
	}
	return false
}

// operatorName reports whether n is, or looks like, an operator account's name.
func (h *Hub) operatorName(n Name) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.isOperatorAccount(n.Display)
}

// SetOperators changes which accounts are operators from their next login on.
func (h *Hub) SetOperators(accounts []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cfg.Operators = slices.Clone(accounts)
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

// lockLive takes h.mu if s is still a member's device and reports whether it did: a session
// that was kicked or banned by someone else must not act any more.
func (h *Hub) lockLive(s *Session) bool {
	h.mu.Lock()
	if s.gone || !s.registered {
		h.mu.Unlock()
		return false
	}
	return true
}

// register makes s the member called n, unless someone online holds a name that looks the
// same, puts it in the lobby and tells the others. A session logged in to an account that is
// online already becomes one more device of that member instead (see attachLocked). The name is
// claimed in Names with no lock held (a cluster's registry answers over the network), then
// everything is checked again.
func (h *Hub) register(s *Session, n Name, acc *Account) error {
	h.mu.Lock()
	attached, err := h.admitLocked(s, n, acc)
	h.mu.Unlock()
	if err != nil || attached {
		return err
	}
	id := h.nextID.Add(1)
	if err := h.claims.Claim(n, id); err != nil {
		if !errors.Is(err, ErrNameHeld) {
			h.log.Error("names: a name could not be claimed", "err", err)
		}
		// The account's first device may have come in meanwhile: this one joins it.
		h.mu.Lock()
		defer h.mu.Unlock()
		if acc != nil {
			if m := h.byAccount[acc.ID]; m != nil {
				return h.attachLocked(s, m)
			}
			if p, ok := h.claims.Lookup(n); ok && p.AccountID == acc.ID {
				return errOnAnotherNode
			}
		}
		return errNameTaken // held on another node, or the registry cannot say: not ours
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if attached, err := h.admitLocked(s, n, acc); err != nil || attached {
		h.claims.Release(n, id)
		return err
	}
	m := newMember(id, n, h.now())
	if acc != nil {
		h.loginLocked(m, *acc)
		if until, ok := h.accountMutes[acc.Name]; ok && until.After(h.now()) {
			m.mutedUntil.Store(until.UnixNano())
		}
	}
	h.names.add(n, m)
	h.membersByID.Store(m.id, m)
	h.users++
	s.member = m
	m.addDeviceLocked(s)
	s.registered = true
	// s is in the lobby before its welcome is queued, so that a line said once the welcome can
	// be seen reaches s too; such a line waits in s.early (see deliverNow), so that the welcome
	// is still the first thing s hears after the prompt.
	h.lobby.addLocked(m)
	s.client.Deliver(&Message{Kind: KindWelcome, From: n.Display})
	for _, line := range h.cfg.MOTD {
		s.narrate(line)
	}
	if h.testHookWelcomed != nil {
		h.testHookWelcomed(n.Display)
	}
	h.enterLocked(s, h.lobby)
	h.showLocked(m)
	s.welcomeDone()
	if m.oper {
		s.notice("you are an operator (your account is one)")
	}
	return nil
}

// admitLocked checks whether s may become the member called n: not when the name is banned or
// worn here. When s is logged in to an account whose member is online, s becomes one more of
// its devices (attached).
func (h *Hub) admitLocked(s *Session, n Name, acc *Account) (attached bool, err error) {
	if h.bans.nameBannedLocked(n, h.now()) {
		return false, errNameBanned
	}
	if acc != nil {
		if m := h.byAccount[acc.ID]; m != nil {
			return true, h.attachLocked(s, m)
		}
	}
	if _, taken := h.names.find(n); taken {
		return false, errNameTaken
	}
	return false, nil
}

// attachLocked makes s one more device of m, an account's member already online: s is in m's
// rooms as m is, and nobody else is told (the member did not come or go).
func (h *Hub) attachLocked(s *Session, m *member) error {
	if max := h.cfg.MaxSessionsPerAccount; max > 0 && len(m.list()) >= max {
		return errTooManyDevices
	}
	s.member = m
	s.registered = true
	m.addDeviceLocked(s)
	s.client.Deliver(&Message{Kind: KindWelcome, From: m.name().Display})
	for _, line := range h.cfg.MOTD {
		s.narrate(line)
	}
	others := len(m.list()) - 1
	devices := "device"
	if others > 1 {
		devices = "devices"
	}
	s.noticef("you are also connected from %d other %s: what you say and are sent shows on each", others, devices)
	// The others are told, so that a login the owner did not make is seen at once.
	s.others(&Message{Kind: KindNotice, Text: "another device logged in to your account, from " + s.remote.String() +
		": /logout ends every device but the one you type it on"})
	// The room it was in last is where its plain lines go, as for a member who just joined it.
	current := m.rooms[len(m.rooms)-1]
	names := make([]string, len(m.rooms))
	for i, r := range m.rooms {
		names[i] = r.name.Display
	}
	s.narrate("you are in " + strings.Join(names, ", "))
	for _, r := range m.rooms {
		h.showMembersLocked(s, r)
	}
	s.setCurrent(current)
	h.replayLocked(s, current)
	if current.topic != "" {
		s.narrate("topic for " + current.name.Display + ": " + current.topic)
	}
	h.showLocked(m)
	s.welcomeDone()
	if m.oper {
		s.notice("you are an operator (your account is one)")
	}
	return nil
}

var (
	errNameTaken      = errors.New("name taken")
	errNameBanned     = errors.New("name banned")
	errTooManyDevices = errors.New("too many devices")
	// errOnAnotherNode: the account is connected through another node of the cluster, and one
	// member's devices are all on one node.
	errOnAnotherNode = errors.New("connected through another node")
)

// unregisterLocked removes s from the chat. When it is its member's last device the member
// leaves, and everyone who shares a room with it is told so, for reason (in a large room, only
// when it moderates it: see large.go). It does nothing for a session already gone.
func (h *Hub) unregisterLocked(s *Session, reason string) { h.unregisterAsLocked(s, reason, false) }

// unregisterAsLocked is unregisterLocked; moderated (a kick out of the chat, a ban) is told
// in large rooms too.
func (h *Hub) unregisterAsLocked(s *Session, reason string, moderated bool) {
	if s.gone || !s.registered {
		return
	}
	s.gone = true
	s.current.Store(nil)
	m := s.member
	m.removeDeviceLocked(s)
	if len(m.list()) > 0 {
		h.showLocked(m)
		return
	}
	m.left = true
	h.users--
	h.names.remove(m.name(), m)
	h.claims.Release(m.name(), m.id)
	h.membersByID.Delete(m.id)
	if m.account != "" && h.byAccount[m.accountID] == m {
		delete(h.byAccount, m.accountID)
	}
	rooms := m.rooms
	m.rooms = nil
	keys := make([]string, 0, len(rooms))
	for _, r := range rooms {
		told := h.announcedLocked(r, m) || moderated // m still counted among r's members
		r.removeLocked(m)
		h.note(KindLeave, r, m, reason)
		if told {
			keys = append(keys, r.key())
		}
	}
	// One quit, told once to each member who shared a room with m where it is told, naming the
	// first room it shares (see deliver); then rooms pass to new owners or end.
	if len(keys) > 0 {
		h.publish(Event{Rooms: keys, Msg: &Message{Kind: KindQuit, From: m.name().Display, Text: reason},
			From: Origin{Member: m.id}})
	}
	for _, r := range rooms {
		h.roomLeftLocked(r, m)
	}
}

// leaveAllLocked removes every device of m from the chat (a kick out of the chat, a ban, an
// account deleted): the last one's going tells the others, for reason; moderated, also in
// large rooms.
func (h *Hub) leaveAllLocked(m *member, reason string, moderated bool) {
	for _, d := range m.list() {
		h.unregisterAsLocked(d, reason, moderated)
	}
}

// addRoomLocked makes r one of the chat's rooms.
func (h *Hub) addRoomLocked(r *Room) {
	h.rooms.add(r.name, r)
	h.roomsByKey.Store(r.key(), r)
	if err := h.bus.Subscribe(r.key()); err != nil {
		h.log.Error("bus: cannot subscribe to a room", "room", r.name.Display, "err", err)
	}
}

// removeRoomLocked ends r, which has no members left.
func (h *Hub) removeRoomLocked(r *Room) {
	h.rooms.remove(r.name, r)
	h.roomsByKey.CompareAndDelete(r.key(), r)
	h.bus.Unsubscribe(r.key())
}

// roomLeftLocked tidies up after s left r: an empty room goes away, and a room whose owner
// left passes to the member who has been there longest.
func (h *Hub) roomLeftLocked(r *Room, s *member) {
	if h.records != nil {
		h.passRoomLocked(r, s)
		return
	}
	members := r.list()
	if len(members) == 0 && r != h.lobby {
		h.removeRoomLocked(r)
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
			h.tellMember(r.owner, "you now own "+r.name.Display)
			h.tellOwnerLocked(r, r.owner.name().Display)
		}
	}
}

// joinLocked puts the member of device s in room r, makes r the device's current room and
// tells the room's other members and the member's other devices.
func (h *Hub) joinLocked(s *Session, r *Room) {
	r.addLocked(s.member)
	h.enterLocked(s, r)
	for _, d := range s.member.list() {
		if d != s {
			h.showMembersLocked(d, r)
		}
	}
}

// enterLocked does what joining r means for device s, once its member is among r's members.
func (h *Hub) enterLocked(s *Session, r *Room) {
	m := s.member
	m.rooms = append(m.rooms, r)
	s.setCurrent(r)
	join := &Message{Kind: KindJoin, Room: r.name.Display, From: m.name().Display}
	if h.announcedLocked(r, m) {
		h.publish(Event{Room: r.key(), Msg: join, From: s.origin()})
	} else {
		// A large room is not told; the member's other devices are (all on this node), as the
		// room's event would have told them.
		for _, d := range m.list() {
			if d != s {
				d.deliverNow(join)
			}
		}
	}
	h.tellLargeLocked(s, r)
	h.note(KindJoin, r, m, "")
	h.replayLocked(s, r)
	if r.topic != "" {
		s.narrate("topic for " + r.name.Display + ": " + r.topic)
	}
	h.showLocked(m)
}

// others gives msg to the other devices of s's member.
func (s *Session) others(msg *Message) {
	for _, d := range s.member.list() {
		if d != s {
			d.client.Deliver(msg)
		}
	}
}

// partLocked takes the member m out of room r, telling its members left (a KindLeave or a
// KindKick) and, when by (the device that asked) is not nil, m's other devices; note is why,
// as history keeps it. A member left in no room goes back to the lobby; a device whose current
// room this was moves to the room the member joined last.
func (h *Hub) partLocked(m *member, r *Room, left *Message, note string, by *Session) {
	// A kick is moderation, told in a large room too; a leave only when m moderates it.
	told := left.Kind != KindLeave || h.announcedLocked(r, m)
	r.removeLocked(m)
	m.rooms = removeRoom(m.rooms, r)
	h.showLocked(m)
	if told {
		h.publish(Event{Room: r.key(), Msg: left, From: Origin{Member: m.id}})
	}
	if by != nil {
		by.others(left)
	}
	h.note(KindLeave, r, m, note)
	h.roomLeftLocked(r, m)
	if len(m.rooms) == 0 {
		r := h.lobby
		r.addLocked(m)
		m.rooms = append(m.rooms, r)
		// Device 0: none of m's devices is told of its own coming back; each is told below.
		if h.announcedLocked(r, m) {
			h.publish(Event{Room: r.key(), Msg: &Message{Kind: KindJoin, Room: r.name.Display, From: m.name().Display},
				From: Origin{Member: m.id}})
		}
		h.note(KindJoin, r, m, "")
		for _, d := range m.list() {
			d.setCurrent(r)
			h.showMembersLocked(d, r)
			h.replayLocked(d, r)
			d.narrate("now talking in " + r.name.Display)
			h.tellLargeLocked(d, r)
		}
		return
	}
	next := m.rooms[len(m.rooms)-1]
	for _, d := range m.list() {
		if d.current.Load() == r {
			d.setCurrent(next)
			d.narrate("now talking in " + next.name.Display)
		}
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
