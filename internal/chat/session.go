package chat

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/password"
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
//
// A session is a device of a member: a guest's only one, or one of the devices an account is
// connected from (see member). The member's state is the embedded *member, shared by them all;
// what is only this connection's (where its plain lines go, what it was asked, the password it
// is typing) is the Session's own.
type Session struct {
	*member // nil before the name is chosen; set once, by the reading goroutine, under hub.mu

	hub       *Hub
	client    Client
	remote    netip.Addr
	connected time.Time

	// Used only by the reading goroutine. What only some sessions need is allocated when first
	// needed (nil before): an idle user costs the server its Session, and a hub holds tens of
	// thousands.
	closed     bool         // Close was called
	quitReason string       // what the user gave to /quit, for the leave notice
	repeat     *repeatState // the last line said; nil before the first
	mutedTold  *mutedTold   // nil before the member was first told it is muted
	search     *searchState // where /search goes on from (search.go); nil before the first
	secret     *secretState // when set, the next line is a password (login.go)
	token      string       // the transport's login proof this session came with (Peer.Token)
	// typedSecrets are the last passwords typed on this connection: a line that holds one is
	// most likely a password typed again at the wrong moment (after a typo at the question, at
	// the name prompt), and is refused rather than shown to everyone.
	typedSecrets []string
	// Guarded by hub.mu. The reading goroutine, the only one that sets registered, may read it
	// without the lock.
	registered bool
	gone       bool // this device was removed from the chat (quit, kicked, banned, logged out)
	// Where /history goes on from, per conversation (a room's key, or an account's for private
	// history).
	historyFrom map[string]historyPos

	id uint64 // this device's number in the hub, for events (Origin)

	// welcomed is set once the device was welcomed; what comes for it before waits in early,
	// guarded by earlyMu, and follows the welcome (see deliverNow).
	welcomed atomic.Bool
	earlyMu  sync.Mutex
	early    []early

	// Read with no lock by whoever sends to this member.
	current atomic.Pointer[Room] // where this device's plain lines go; nil when gone

	// What it said that is not shown yet (storewait.go); nil before its first line kept. Used
	// only by the reading goroutine; the history's callbacks hold their own pointer.
	stores *storeWait
}

// member is a person in the chat: a name, the rooms it is in and what it set, and the devices
// it is connected from (one, for a guest). Its fields are guarded by hub.mu unless said.
type member struct {
	id uint64 // the member's number in the hub, for events (Origin)
	// shown is the member's name (name), which readers that hold no lock (a line being said)
	// load too: one copy of it, not a field and a copy.
	shown atomic.Pointer[Name]
	left  bool    // removed from the chat: its last device went
	rooms []*Room // rooms joined, in the order joined
	away  string  // why the member is away; "" when not
	oper  bool    // the member is an operator
	// operByAccount: oper came with the account (Config.Operators, the store's mark).
	operByAccount bool
	// account is the account logged in as, "" for a guest; accountID its store ID.
	account   string
	accountID int64
	// lastFrom is who sent the last private message, for /reply: set by deliver, with no lock.
	lastFrom atomic.Pointer[replyTo]
	// elsewhere, for a stand-in of a member another node holds (see ghost), is what Names
	// tell of it; nil for this node's members.
	elsewhere *Presence
	// toldPrivateUnkept: the member was told that private messages are kept nowhere.
	toldPrivateUnkept bool
	since             time.Time // when its first device entered

	devices cowList[*Session] // read with no lock by whoever delivers to the member

	// Read with no lock by whoever sends to this member.
	ignored    atomic.Pointer[map[uint64]*member] // members whose lines are not delivered, by id; copied on write under hub.mu
	mutedUntil atomic.Int64                       // unix nanoseconds; lines are refused before it
}

func newMember(id uint64, n Name, since time.Time) *member {
	m := &member{id: id, since: since}
	m.shown.Store(&n)
	return m
}

// nameNow returns the member's name, safely without the hub's lock.
func (m *member) nameNow() Name { return *m.shown.Load() }

// name returns the member's name (under hub.mu, or where nameNow would do as well).
func (m *member) name() Name { return *m.shown.Load() }

// setName renames the member; under hub.mu.
func (m *member) setName(n Name) {
	m.shown.Store(&n)
}

// list returns the member's devices. The slice must not be modified.
func (m *member) list() []*Session { return m.devices.load() }

func (m *member) addDeviceLocked(s *Session)    { m.devices.add(s) }
func (m *member) removeDeviceLocked(s *Session) { m.devices.remove(s) }

// deliver gives msg to each of the member's devices.
func (m *member) deliver(msg *Message) {
	for _, d := range m.list() {
		d.deliverNow(msg)
	}
}

// tell says text, a notice about the member rather than an answer to one device, to all its
// devices.
// narrate tells every device of m text, a notice marked Narration.
func (m *member) narrate(text string) {
	m.deliver(&Message{Kind: KindNotice, Text: text, Narration: true})
}

// repeatState collapses a line said again and again into one count.
type repeatState struct {
	room  *Room
	kind  Kind
	text  string
	at    time.Time
	count int // times said again since it was delivered
}

// mutedTold is when a muted member was last told so, and about which mute: refusals in a
// row are said once, not once per line.
type mutedTold struct {
	at    time.Time
	until int64 // the mutedUntil told about
}

// mutedNoticeEvery is how often a muted member who goes on sending is told again.
const mutedNoticeEvery = time.Minute

// Name returns the member's name, or "" before registration.
func (s *Session) Name() string {
	if s.member == nil {
		return ""
	}
	return s.nameNow().Display
}

// Registered reports whether the user has chosen a name and joined.
func (s *Session) Registered() bool { return s.registered }

// Handle acts on one line the user typed (without its line end). It returns ErrQuit when the
// user leaves.
func (s *Session) Handle(line []byte) error {
	if s.closed {
		return ErrQuit
	}
	if s.secret != nil {
		if strings.EqualFold(strings.TrimSpace(string(line)), "/quit") {
			// Leaving is not a guess (a password is at least 8 characters, so "/quit" is none).
			s.endSecret()
			return s.cmdQuit("")
		}
		// A password: as typed, and nowhere but to its check.
		s.handleSecret(string(line))
		return nil
	}
	if s.holdsSecret(line) {
		// A password typed again at the wrong question: said, everyone would see it.
		if s.registered {
			s.notice("not sent: it holds the password you typed before, and was shown to no one")
		} else {
			s.notice("that holds the password you typed before, so it is not a name: it was shown to no one. Choose a name")
			s.client.Deliver(s.hub.prompt)
		}
		return nil
	}
	// A line is classified as it will be shown, cleaned: what an Up-arrow (ESC [ A) or a Ctrl-L
	// leaves in front of "/oper PASSWORD" is removed, so the line runs as the command it reads
	// as, instead of reaching the room once the cleaning has made it look like one.
	text := safetext.Clean(line)
	if strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") {
		return s.command(text[1:])
	}
	said := strings.HasPrefix(text, "//")
	if said {
		text = text[1:] // "//text" says "/text"
	} else if name, ok := s.hub.mistypedCommand(text); ok {
		s.noticef("not sent, it looks like the command /%s: type it again at the start of the line, or start the line with // to say it", name)
		if !s.registered {
			s.client.Deliver(s.hub.prompt)
		}
		return nil
	}
	if !s.registered {
		typed := string(line) // as typed: a name with controls in it is refused, not cleaned
		if said {
			typed = text
		}
		s.chooseName(typed)
		return nil
	}
	if strings.TrimFunc(text, blank) == "" {
		return nil
	}
	s.say(KindChat, text)
	return nil
}

// holdsSecret reports whether line holds one of the passwords typed on this connection.
func (s *Session) holdsSecret(line []byte) bool {
	for _, pw := range s.typedSecrets {
		if pw = strings.TrimSpace(pw); pw != "" && strings.Contains(string(line), pw) {
			return true
		}
	}
	return false
}

// keepSecret remembers pw, a password just typed, to refuse it if it is typed again as a line
// (see holdsSecret); only the last few, only in this connection's memory.
func (s *Session) keepSecret(pw string) {
	const kept = 4
	if strings.TrimSpace(pw) == "" || slices.Contains(s.typedSecrets, pw) {
		return
	}
	if len(s.typedSecrets) == kept {
		s.typedSecrets = s.typedSecrets[1:]
	}
	s.typedSecrets = append(s.typedSecrets, pw)
}

// blank reports whether r shows as nothing: a line of only such characters is an empty line,
// ignored, not a blank one said to everyone.
func blank(r rune) bool { return unicode.IsSpace(r) || r == '\u2800' } // U+2800: the braille blank

// Where a line that is not a command may still be one typed after stray keys.
const (
	// strayBefore is how many characters may come before a command's slash in a line's first
	// word: a terminal's arrow key sent as ESC O A leaves an "A" once cleaned, and a few
	// presses leave a few. Keys leave no lower-case letters, so "you/me" is a word, not a
	// stray key before /me.
	strayBefore = 8
	// operNear is how far into a line "/oper" is looked for anywhere: a line with the
	// operator password in it must never reach a room, whatever came before it.
	operNear = 24
)

// mistypedCommand reports whether text, a line that does not start with '/', still looks like
// a command typed after stray characters, and which one: its first word (after any spaces)
// has at most strayBefore characters, none lower-case, and then "/COMMAND", or "/oper" comes
// within its first operNear characters, whatever is before it, and is not the start of a
// longer word ("/opera").
func (h *Hub) mistypedCommand(text string) (string, bool) {
	t := strings.TrimLeftFunc(text, unicode.IsSpace)
	word := t
	if i := strings.IndexFunc(t, unicode.IsSpace); i >= 0 {
		word = t[:i]
	}
	if i := strings.IndexByte(word, '/'); i >= 0 && utf8.RuneCountInString(word[:i]) <= strayBefore &&
		!strings.ContainsFunc(word[:i], unicode.IsLower) {
		if c := h.lookupCommand(strings.ToLower(word[i+1:])); c != nil {
			return c.name, true
		}
	}
	for at := 0; at < len(t); at++ {
		if t[at] != '/' {
			continue
		}
		if utf8.RuneCountInString(t[:at]) > operNear {
			break
		}
		end := at + len("/oper")
		if end > len(t) || !strings.EqualFold(t[at+1:end], "oper") {
			continue
		}
		after, _ := utf8.DecodeRuneInString(t[end:])
		if end == len(t) || !unicode.IsLetter(after) && !unicode.IsDigit(after) {
			return "oper", true
		}
	}
	return "", false
}

// Close ends the session: the member leaves and the others are told. It is safe to call more
// than once, and after the member was kicked.
func (s *Session) Close() { s.CloseFor("") }

// CloseFor is Close, the others told why the connection ended in the transport's words
// (reason, "ping timeout", "connection closed"), unless the user gave a reason to /quit. The
// reason is the server's own: nothing a client sends may become one (it could pass for a kick).
func (s *Session) CloseFor(reason string) {
	if s.quitReason == "" && !s.closed {
		s.quitReason = reason
	}
	s.closed = true
	if !s.registered {
		return
	}
	s.waitStored()
	s.hub.mu.Lock()
	s.hub.unregisterLocked(s, s.quitReason)
	s.hub.mu.Unlock()
}

// Flooding is called by the transport when the user has gone on sending faster than the line
// rate for too long: the member is muted for a while (Config.FloodMute), and told so.
// Operators are never muted for it: they may have good reason to send a lot (pasting rules,
// answering many), and a mute would take away the means to deal with a flood.
func (s *Session) Flooding() {
	if !s.registered || s.muted() > 0 || s.hub.cfg.FloodMute <= 0 {
		return
	}
	h := s.hub
	h.mu.Lock()
	oper := s.oper
	h.mu.Unlock()
	if oper {
		return
	}
	now := h.now()
	until := now.Add(h.cfg.FloodMute).UnixNano()
	s.mutedUntil.Store(until)
	s.mutedTold = &mutedTold{at: now, until: until}
	s.noticef("you are sending too fast: muted for %v", h.cfg.FloodMute)
	s.hub.log.Info("flooding user muted", "name", s.nameNow().Display, "for", s.hub.cfg.FloodMute)
}

// muted returns how long the member remains muted.
func (s *Session) muted() time.Duration {
	until := s.mutedUntil.Load()
	if until == 0 {
		return 0
	}
	return max(time.Unix(0, until).Sub(s.hub.now()), 0)
}

// refuseIfMuted reports whether the member is muted, and tells it so: once for a run of
// refusals, again after mutedNoticeEvery or when the mute changed.
func (s *Session) refuseIfMuted() bool {
	left := s.muted()
	if left <= 0 {
		return false
	}
	now, until := s.hub.now(), s.mutedUntil.Load()
	if told := s.mutedTold; told == nil || told.until != until || now.Sub(told.at) >= mutedNoticeEvery {
		s.mutedTold = &mutedTold{at: now, until: until}
		s.noticef("you are muted for another %v", left.Round(time.Second))
	}
	return true
}

// setCurrent makes r where the member's plain lines go, and tells its client.
func (s *Session) setCurrent(r *Room) {
	s.current.Store(r)
	s.client.Deliver(&Message{Kind: KindCurrent, Room: r.name.Display})
}

// ignores reports whether the member does not want to hear from the member numbered from.
func (s *member) ignores(from uint64) bool {
	m := s.ignored.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[from]
	return ok
}

// origin is where what s does comes from, for events.
func (s *Session) origin() Origin { return Origin{Member: s.member.id, Device: s.id} }

// say says text (a chat line or a /me action) in the member's current room. A line that
// repeats the one before within repeatWindow is counted instead of sent, and the count is
// said before the next different line.
func (s *Session) say(kind Kind, text string) {
	room := s.current.Load()
	if room == nil || s.refuseIfMuted() {
		return
	}
	now := s.hub.now()
	if s.repeat == nil {
		s.repeat = new(repeatState)
	}
	rep := s.repeat
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
		s.sayIn(room, KindChat, fmt.Sprintf("(previous line repeated %d %s)", rep.count, times), false)
	}
	*rep = repeatState{room: room, kind: kind, text: text, at: now}
	s.sayIn(room, kind, text, false)
}

// sayIn says text in room (as a notice: Message.Notice): at once, or, when history is kept,
// once it is stored.
func (s *Session) sayIn(room *Room, kind Kind, text string, notice bool) {
	h := s.hub
	if h.cfg.History == nil {
		h.publish(Event{Room: room.key(), Msg: &Message{Kind: kind, Room: room.name.Display, From: s.nameNow().Display, Text: text, Notice: notice},
			From: s.origin()})
		return
	}
	name := s.nameNow()
	rec := Record{Time: h.now(), Kind: kind, Room: room.key(), RoomName: room.name.Display,
		From: name.Display, FromKey: name.looks[0], Text: text, Notice: notice}
	s.store(rec, func(rec Record, err error) {
		if err != nil {
			s.storeFailed(err)
			return
		}
		// Delivered under the lock, so that whoever joins the room either gets the line here
		// or finds it in the room's memory when joining.
		h.mu.Lock()
		defer h.mu.Unlock()
		h.publish(Event{Room: room.key(), Msg: liveMessage(rec), From: s.origin(), Record: &rec})
		h.rememberLocked(room, rec)
	})
}

func (s *Session) chooseName(typed string) {
	if strings.TrimSpace(typed) == "" {
		s.client.Deliver(s.hub.prompt) // an Enter typed too soon: ask again
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
	h := s.hub
	h.mu.Lock()
	banned := h.bans.nameBannedLocked(n, h.now())
	h.mu.Unlock()
	if banned {
		// Said before any password is asked, so that a guess at a banned account's password
		// learns nothing.
		s.notice("that name is banned, please choose other")
		s.client.Deliver(h.prompt)
		return
	}
	acc, has, err := h.findAccount(n)
	if err != nil {
		h.log.Error("name prompt", "err", err)
		s.notice("the server cannot check names just now, please try again later")
		s.client.Deliver(h.prompt)
		return
	}
	switch {
	case has:
		s.askSecret(secretState{step: secretLogin, name: n, account: acc},
			fmt.Sprintf("password for %s:", acc.Name))
	case h.cfg.AccountsRequired:
		h.mu.Lock()
		_, taken := h.names.find(n)
		h.mu.Unlock()
		if taken {
			s.client.Deliver(h.nameTaken)
			s.client.Deliver(h.prompt)
			return
		}
		s.askSecret(secretState{step: secretNew, purpose: forPrompt, name: n},
			fmt.Sprintf("%s is not registered, and this server is for accounts only: choose a password to register it (%s)", n.Display, password.Rule))
	case h.operatorName(n):
		s.notice("that name is kept for an operator, please choose other")
		s.client.Deliver(h.prompt)
	default:
		s.enter(n, nil)
	}
}

// enter registers the member as n, logged in to acc (nil: a guest), or says why not and asks
// for a name again.
func (s *Session) enter(n Name, acc *Account) bool {
	switch err := s.hub.register(s, n, acc); {
	case errors.Is(err, errNameBanned):
		s.notice("that name is banned, please choose other")
		s.client.Deliver(s.hub.prompt)
	case errors.Is(err, errOnAnotherNode):
		s.noticef("%s is connected through another server of this chat: connect to that one to use it from here too, or /quit there", acc.Name)
		s.client.Deliver(s.hub.prompt)
	case errors.Is(err, errTooManyDevices):
		s.noticef("%s is connected from %d devices already, the most allowed: /logout on one of them ends the others",
			acc.Name, s.hub.cfg.MaxSessionsPerAccount)
		s.client.Deliver(s.hub.prompt)
	case err != nil:
		s.client.Deliver(s.hub.nameTaken)
		s.client.Deliver(s.hub.prompt)
	default:
		s.hub.log.Debug("registered", "name", n.Display)
		return true
	}
	return false
}

func (s *Session) notice(text string) {
	s.client.Deliver(&Message{Kind: KindNotice, Text: text})
}

func (s *Session) noticef(format string, args ...any) {
	s.notice(fmt.Sprintf(format, args...))
}

// narrate says text to this device as a notice marked Narration: what a transport that
// renders typed messages and answers itself leaves out.
func (s *Session) narrate(text string) {
	s.client.Deliver(&Message{Kind: KindNotice, Text: text, Narration: true})
}
