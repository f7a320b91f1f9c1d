package chat

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is one thing said, as history keeps it.
type Record struct {
	ID       int64 // given by the History when stored; increasing
	Time     time.Time
	Kind     Kind   // KindChat, KindAction, KindTopic, KindJoin, KindLeave, KindNick or KindPrivate
	Room     string // the room's key; "" for a private message
	RoomName string // the room's name as shown
	From     string
	FromKey  string
	To       string // the recipient of a private message
	ToKey    string
	Text     string
	Notice   bool // said as a notice (Message.Notice); not kept: what history gives back is a line
}

// Ban is a ban kept across restarts: of a name, or of an address prefix.
type Ban struct {
	Name    string       // the banned name as shown, or ""
	Address netip.Prefix // the banned network, when Name is ""
	Until   time.Time    // zero: until lifted
}

// Lines keeps what was said, so that it survives a restart and can be replayed and searched.
// The chat calls Store for lines that must be kept before anyone sees them, and waits for done
// before delivering them: so nothing shown is lost.
type Lines interface {
	// Store queues r and calls done once it is kept (with its ID set) or could not be. done is
	// called from one goroutine of the store, in the order of the Store calls. Store may
	// block while too much is queued, so it must not be called holding a lock that done takes.
	Store(r Record, done func(Record, error))
	// Note queues r to be kept, without waiting or being told; it never blocks.
	Note(r Record)
	// Recent returns up to n records of a room (or of a private conversation between the keys
	// a and b, when room is ""), older than the ID before (0: the newest), oldest first.
	// Joins, leaves and nick changes are left out.
	Recent(ctx context.Context, room, a, b string, before int64, n int) ([]Record, error)
	// Search returns a page of the records of a room whose text has every word of the
	// query's, newest first, and how many match in all. It costs what it returns, not what
	// the room holds. It fails with ErrBusy when too many searches are running.
	Search(ctx context.Context, q SearchQuery) (SearchPage, error)
}

// BanList keeps the bans across restarts.
type BanList interface {
	// SaveBan and DeleteBan queue a change to the bans; Bans returns them.
	SaveBan(b Ban)
	DeleteBan(b Ban)
	Bans(ctx context.Context) ([]Ban, error)
}

// SearchQuery asks Lines.Search for one page of matches.
type SearchQuery struct {
	Room   string // the room's key
	Words  string // each word is searched for as itself, never as query syntax
	Before int64  // only records older than this ID; 0: from the newest
	N      int    // records to return at most
	// Count is how many matches to count at most: counting all the matches of a common word
	// would cost as much as the scan Search avoids.
	Count int
}

// SearchPage is what Lines.Search found.
type SearchPage struct {
	Records []Record // newest first
	// Matches is how many records older than the query's Before match, Records included,
	// counted up to the query's Count; Capped says that more match than that.
	Matches int
	Capped  bool
}

// ErrBusy is what Lines.Search returns when it is running as many searches as it may, and
// one more would have waited too long.
var ErrBusy = errors.New("history is busy")

// Bounds on history shown at once.
const (
	defaultHistory = 20  // lines /history shows
	maxHistory     = 200 // lines /history shows at most
	maxSearch      = 20  // matches /search shows
	historyTimeout = 5 * time.Second
)

// historyMessage is how a record is shown when it is replayed.
func historyMessage(r Record) *Message {
	return &Message{Kind: r.Kind, Room: r.RoomName, From: r.From, To: r.To, Text: r.Text,
		History: true, ID: r.ID, Time: r.Time}
}

// liveMessage is how a record just stored is shown.
func liveMessage(r Record) *Message {
	return &Message{Kind: r.Kind, Room: r.RoomName, From: r.From, To: r.To, Text: r.Text, ID: r.ID, Time: r.Time, Notice: r.Notice}
}

// Restore loads from history what the chat needs at start: the bans, the mutes of accounts
// (Config.Mutes), and the lobby's last lines. It returns an error when history cannot be read. Nothing is read from the database
// under the hub's lock: lines said in the lobby meanwhile are merged with what was read.
func (h *Hub) Restore(ctx context.Context) error {
	var bans []Ban
	if h.cfg.Bans != nil {
		var err error
		if bans, err = h.cfg.Bans.Bans(ctx); err != nil {
			return err
		}
	}
	var mutes map[string]time.Time
	if h.cfg.Mutes != nil {
		var err error
		if mutes, err = h.cfg.Mutes.Mutes(ctx); err != nil {
			return err
		}
	}
	recent := h.loadRecent(h.lobby.name)
	h.mu.Lock()
	defer h.mu.Unlock()
	for account, until := range mutes {
		if until.After(h.now()) {
			if _, known := h.accountMutes[account]; !known { // an order since is newer
				h.muteAccountLocked(account, until)
			}
		}
	}
	for _, b := range bans {
		if b.Name == "" {
			h.bans.addAddrLocked(b.Address, b.Until)
			continue
		}
		if n, err := ParseName(b.Name); err == nil {
			h.bans.addNameLocked(n, b.Until)
		}
	}
	h.lobby.recent = h.mergeRecent(recent, h.lobby.recent)
	return nil
}

// keepsReplay reports whether rooms remember their last lines to replay them.
func (h *Hub) keepsReplay() bool { return h.cfg.History != nil && h.cfg.Replay > 0 }

// loadRecent reads the last lines of the room called n from history, for its replay. It must
// not be called holding h.mu: it waits for the database.
func (h *Hub) loadRecent(n Name) []Record {
	if !h.keepsReplay() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	recs, err := h.cfg.History.Recent(ctx, n.looks[0], "", "", 0, h.cfg.Replay)
	if err != nil {
		h.log.Error("history: cannot read a room's last lines", "room", n.Display, "err", err)
		return nil
	}
	return recs
}

// mergeRecent returns the last Config.Replay records of a and b together, each once, in the
// order of their IDs: what was read from history and what was said while it was read may
// hold the same lines.
func (h *Hub) mergeRecent(a, b []Record) []Record {
	out := make([]Record, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.SortStableFunc(out, func(x, y Record) int { return cmp.Compare(x.ID, y.ID) })
	out = slices.CompactFunc(out, func(x, y Record) bool { return x.ID == y.ID })
	return out[max(len(out)-h.cfg.Replay, 0):]
}

// pendingLoad is a room's replay being read from history by members about to make it again:
// the lines that, meanwhile, could not be remembered by the room they were said in, which was
// gone.
type pendingLoad struct {
	readers int
	late    []Record
}

// startLoadLocked notes that the room keyed key is being read from history.
func (h *Hub) startLoadLocked(key string) {
	if h.loading == nil {
		h.loading = make(map[string]*pendingLoad)
	}
	p := h.loading[key]
	if p == nil {
		p = &pendingLoad{}
		h.loading[key] = p
	}
	p.readers++
}

// endLoadLocked ends a read of the room keyed key and returns what was read merged with the
// lines that came meanwhile.
func (h *Hub) endLoadLocked(key string, read []Record) []Record {
	p := h.loading[key]
	p.readers--
	if p.readers == 0 {
		delete(h.loading, key)
	}
	return h.mergeRecent(read, p.late)
}

// replayLocked shows s, which just joined r, the room's last lines: as many of the newest as
// fit in one answer.
func (h *Hub) replayLocked(s *Session, r *Room) {
	if len(r.recent) == 0 {
		return
	}
	first := h.fitting(r.recent)
	for _, rec := range r.recent[first:] {
		s.client.Deliver(historyMessage(rec))
	}
	if first > 0 {
		s.noticef("end of history: more than fits at once, /history for the next %d %s", first, lines(first))
	} else {
		s.notice("end of history")
	}
	if s.historyFrom == nil {
		s.historyFrom = make(map[string]historyPos)
	}
	s.historyFrom[r.key()] = historyPos{before: r.recent[first].ID, left: first}
}

// historyPos is where /history goes on from in one conversation.
type historyPos struct {
	before int64 // the oldest line shown
	left   int   // lines asked for that did not fit in the last answer
}

// fitting returns the index of the oldest of recs (oldest first) that fits in one answer
// with all those after it; the newest is shown however long it is.
func (h *Hub) fitting(recs []Record) int {
	return h.fittingBy(len(recs), func(i int) int { return recordSize(recs[i]) })
}

// fittingMessages is fitting for history already made into messages.
func (h *Hub) fittingMessages(msgs []*Message) int {
	return h.fittingBy(len(msgs), func(i int) int {
		m := msgs[i]
		return shownSize(m.Text, m.From, m.To, m.Room)
	})
}

// fittingBy is fitting for n things whose ith takes size(i) once shown.
func (h *Hub) fittingBy(n int, size func(i int) int) int {
	total := 0
	for i := n - 1; i >= 0; i-- {
		total += size(i)
		if total > h.cfg.AnswerBytes && i < n-1 {
			return i + 1
		}
	}
	return 0
}

// recordSize is about what a record takes once shown: its text and names, and room for a
// time stamp and the punctuation around them.
func recordSize(r Record) int { return shownSize(r.Text, r.From, r.To, r.RoomName) }

func shownSize(text, from, to, room string) int {
	return len(text) + len(from) + len(to) + len(room) + 48
}

func lines(n int) string {
	if n == 1 {
		return "line"
	}
	return "lines"
}

// rememberLocked adds a line just delivered in r to the room's memory for replay. A room that
// emptied and was made again while the line was being stored is a new Room: the line goes to
// that one's memory, or to a read of its replay in progress, so that it is not lost.
// sayIfBehind tells the user when this node's history is still catching up with what other
// nodes kept, so that a line missing from /history or /search is not taken for lost.
func (s *Session) sayIfBehind() {
	if f := s.hub.cfg.HistoryBehind; f != nil {
		if n := f(); n > 0 {
			s.noticef("this server's history is catching up with the other servers' (%d events to go): the latest lines may be missing for now", n)
		}
	}
}

// Indexed tells the hub that its history now holds rec, which another node of a cluster kept
// first: a room line is remembered for the replay to whoever joins the room next.
func (h *Hub) Indexed(rec Record) {
	if rec.Room == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.roomsByKey.Load(rec.Room); ok {
		h.rememberLocked(r.(*Room), rec)
	}
}

func (h *Hub) rememberLocked(r *Room, rec Record) {
	if h.cfg.Replay <= 0 {
		return
	}
	if live, ok := h.rooms.find(r.name); ok && live != r {
		r = live
	} else if !ok {
		if p := h.loading[r.key()]; p != nil {
			p.late = append(p.late, rec)
		}
		return
	}
	if n := len(r.recent); n == 0 || r.recent[n-1].ID < rec.ID {
		if n == h.cfg.Replay {
			copy(r.recent, r.recent[1:])
			r.recent = r.recent[:n-1]
		}
		r.recent = append(r.recent, rec)
		return
	}
	// Read from history already, or older than what was: merged in its place.
	r.recent = h.mergeRecent(r.recent, []Record{rec})
}

// note records a join, a leave or a nick change, which is shown at once.
func (h *Hub) note(kind Kind, r *Room, s *member, text string) {
	if h.cfg.History == nil {
		return
	}
	rec := Record{Time: h.now(), Kind: kind, From: s.name().Display, FromKey: s.name().looks[0], Text: text}
	if r != nil {
		rec.Room, rec.RoomName = r.key(), r.name.Display
	}
	h.cfg.History.Note(rec)
}

// storeFailed tells a user that what they said was not kept, so nobody was shown it.
func (s *Session) storeFailed(err error) {
	s.notice("the server could not store that, so nobody saw it: try again later")
	h := s.hub
	// Logged at most once per storeErrorLogEvery: a full disk fails every line.
	now := h.now().UnixNano()
	last := h.storeErrorLogged.Load()
	if now-last >= int64(storeErrorLogEvery) && h.storeErrorLogged.CompareAndSwap(last, now) {
		h.log.Error("history: cannot store lines; they are not shown", "err", err)
	}
}

const storeErrorLogEvery = 10 * time.Second

func (s *Session) cmdHistory(args string) error {
	h := s.hub
	if h.cfg.History == nil {
		s.notice("this server keeps no history")
		return nil
	}
	s.sayIfBehind()
	var who string
	n := defaultHistory
	given := false // whether the user said how many
	fields := strings.Fields(args)
	if len(fields) > 0 {
		if v, err := strconv.Atoi(fields[len(fields)-1]); err == nil {
			n, given = v, true
			fields = fields[:len(fields)-1]
		}
	}
	switch {
	case len(fields) > 1 || n < 1:
		return s.usage("history")
	case len(fields) == 1:
		who = fields[0]
	}
	n = min(n, maxHistory)
	// /history NAME reads only private history, as it always has (/history #go says there is
	// none with #go); the typed History reads a room named too.
	conv, err := s.conversation("")
	if who != "" {
		conv, err = s.privateConv(who)
	}
	if s.tell(err) || conv.key == "" {
		return nil
	}
	s.showHistory(conv, n, given)
	return nil
}

// History returns up to n (at most maxHistory) lines of a conversation older than the line
// numbered before (0: the newest), oldest first, marked History: target is a room the member
// is in ("": the device's current one), or the name of someone with whom the member's
// account has private history (the member's own lines in it are marked Sent). Joins, leaves
// and nick changes are left out. Unlike /history it keeps no place: the caller pages by the
// ID of the oldest line it got.
func (s *Session) History(target string, before int64, n int) ([]*Message, error) {
	h := s.hub
	switch {
	case h.cfg.History == nil:
		return nil, fail(CodeNotOffered, "this server keeps no history")
	case n < 1:
		return nil, fail(CodeNeedArgs, "say how many lines, 1 or more")
	}
	conv, err := s.conversation(target)
	if err != nil || conv.key == "" {
		return nil, err
	}
	return s.readHistory(conv, before, min(n, maxHistory))
}

// conversation finds what History and /history read for target: a room the member is in
// ("": the current one), or private history with the one called target. Its key is "" for a
// device no longer in the chat.
func (s *Session) conversation(target string) (historyConv, error) {
	if target != "" && !strings.HasPrefix(target, "#") {
		return s.privateConv(target)
	}
	h := s.hub
	if !h.lockLive(s) {
		return historyConv{}, nil
	}
	defer h.mu.Unlock()
	r, err := s.roomLocked(target)
	switch {
	case err != nil:
		return historyConv{}, err
	case !slices.Contains(s.rooms, r):
		return historyConv{}, fail(CodeNotInRoom, "you are not in %s", r.name.Display)
	}
	return historyConv{key: r.key(), room: r.key()}, nil
}

// readHistory reads up to n lines of conv older than the line numbered before, oldest first.
func (s *Session) readHistory(conv historyConv, before int64, n int) ([]*Message, error) {
	h := s.hub
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	recs, err := h.cfg.History.Recent(ctx, conv.room, conv.a, conv.b, before, n)
	if err != nil {
		h.log.Error("history: cannot read", "err", err)
		return nil, fail(CodeUnavailable, "the server could not read its history: try again later")
	}
	out := make([]*Message, len(recs))
	for i, rec := range recs {
		m := historyMessage(rec)
		m.Sent = conv.room == "" && rec.FromKey == conv.a // the reader's own: "[PM to bob]"
		out[i] = m
	}
	return out, nil
}

// historyConv is one conversation whose history can be read: a room's, or the private one
// between two accounts.
type historyConv struct {
	key  string // where paging is remembered (historyFrom)
	room string // the room's key, or "" for private history
	a, b string // the two accounts' keys, for private history
}

// privateConv finds the private conversation between s's account and the account of the one
// called who (online, or registered), failing when there is none s may read.
func (s *Session) privateConv(who string) (historyConv, error) {
	h := s.hub
	shown := clean(who, MaxNameLen*4)
	if h.cfg.NoPrivateHistory || h.cfg.Accounts == nil {
		return historyConv{}, fail(CodeNotOffered, "this server keeps private messages nowhere, so there is no history with %s to show", shown)
	}
	n, err := ParseName(who)
	if err != nil {
		return historyConv{}, fail(CodeNoSuchName, "there is no private history with %s", shown)
	}
	if !h.lockLive(s) {
		return historyConv{}, nil
	}
	mine := s.accountID
	var theirs int64
	if m, online := h.names.find(n); online && m.account != "" {
		theirs = m.accountID
	}
	h.mu.Unlock()
	if mine == 0 {
		// Kept under names, private talks would be read by whoever takes a name next.
		return historyConv{}, fail(CodeNotAllowed, "private messages are kept only between accounts, and you are a guest, so there is no history with %s to show: /register to keep yours from now on", shown)
	}
	if theirs == 0 {
		acc, has, err := h.findAccount(n)
		if err != nil {
			h.log.Error("history: finding an account", "err", err)
			return historyConv{}, fail(CodeUnavailable, "the server could not read its history: try again later")
		}
		if !has {
			return historyConv{}, fail(CodeNoSuchName, "%s is not a registered name: private messages with guests are kept nowhere, so there is no history with %s to show", shown, shown)
		}
		theirs = acc.ID
	}
	a, b := accountKey(mine), accountKey(theirs)
	return historyConv{key: a + " " + b, a: a, b: b}, nil
}

// showHistory shows n lines of conv older than those s was shown last (fewer when they do
// not fit one answer), and where to go on from.
func (s *Session) showHistory(conv historyConv, n int, given bool) {
	h := s.hub
	if !h.lockLive(s) {
		return
	}
	pos := s.historyFrom[conv.key]
	h.mu.Unlock()
	if !given && pos.left > 0 {
		n = pos.left // what did not fit last time
	}
	// One more than asked for, to know whether there is anything earlier.
	msgs, err := s.readHistory(conv, pos.before, n+1)
	if s.tell(err) {
		return
	}
	if len(msgs) == 0 {
		s.notice("no earlier history")
		return
	}
	earlier := len(msgs) > n
	if earlier {
		msgs = msgs[1:]
	}
	first := h.fittingMessages(msgs)
	for _, m := range msgs[first:] {
		s.client.Deliver(m)
	}
	switch {
	case first > 0:
		s.noticef("end of history: more than fits at once, /history again for the next %d %s", first, lines(first))
	case earlier:
		s.notice("end of history: /history again for earlier lines")
	default:
		s.notice("end of history: nothing earlier")
	}
	pos = historyPos{before: msgs[first].ID, left: first}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.historyFrom == nil {
		s.historyFrom = make(map[string]historyPos)
	}
	s.historyFrom[conv.key] = pos
}
