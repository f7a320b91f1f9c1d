package chat

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
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
}

// Ban is a ban kept across restarts: of a name, or of an address prefix.
type Ban struct {
	Name    string       // the banned name as shown, or ""
	Address netip.Prefix // the banned network, when Name is ""
	Until   time.Time    // zero: until lifted
}

// History keeps what was said, so that it survives a restart and can be replayed and
// searched, and keeps the bans. The chat calls Store for lines that must be kept before anyone
// sees them, and waits for done before delivering them: so nothing shown is lost.
type History interface {
	// Store queues r and calls done once it is kept (with its ID set) or could not be. done is
	// called from one goroutine of the History, in the order of the Store calls. Store may
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
	// SaveBan and DeleteBan queue a change to the bans; Bans returns them.
	SaveBan(b Ban)
	DeleteBan(b Ban)
	Bans(ctx context.Context) ([]Ban, error)
}

// SearchQuery asks History.Search for one page of matches.
type SearchQuery struct {
	Room   string // the room's key
	Words  string // each word is searched for as itself, never as query syntax
	Before int64  // only records older than this ID; 0: from the newest
	N      int    // records to return at most
	// Count is how many matches to count at most: counting all the matches of a common word
	// would cost as much as the scan Search avoids.
	Count int
}

// SearchPage is what History.Search found.
type SearchPage struct {
	Records []Record // newest first
	// Matches is how many records older than the query's Before match, Records included,
	// counted up to the query's Count; Capped says that more match than that.
	Matches int
	Capped  bool
}

// ErrBusy is what History.Search returns when it is running as many searches as it may, and
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
	return &Message{Kind: r.Kind, Room: r.RoomName, From: r.From, To: r.To, Text: r.Text, ID: r.ID, Time: r.Time}
}

// Restore loads from history what the chat needs at start: the bans, and the lobby's last
// lines. It returns an error when history cannot be read.
func (h *Hub) Restore(ctx context.Context) error {
	if h.cfg.History == nil {
		return nil
	}
	bans, err := h.cfg.History.Bans(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range bans {
		if b.Name == "" {
			h.bans.addAddrLocked(b.Address, b.Until)
			continue
		}
		if n, err := ParseName(b.Name); err == nil {
			h.bans.addNameLocked(n, b.Until)
		}
	}
	h.loadRecentLocked(h.lobby)
	return nil
}

// loadRecentLocked fills a new room's memory of its last lines from history, for replay.
func (h *Hub) loadRecentLocked(r *Room) {
	if h.cfg.History == nil || h.cfg.Replay <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	recs, err := h.cfg.History.Recent(ctx, r.key(), "", "", 0, h.cfg.Replay)
	if err != nil {
		h.log.Error("history: cannot read a room's last lines", "room", r.name.Display, "err", err)
		return
	}
	r.recent = recs
}

// replayLocked shows s, which just joined r, the room's last lines.
func (h *Hub) replayLocked(s *Session, r *Room) {
	if len(r.recent) == 0 {
		return
	}
	for _, rec := range r.recent {
		s.client.Deliver(historyMessage(rec))
	}
	s.notice("end of history")
	if s.historyFrom == nil {
		s.historyFrom = make(map[*Room]int64)
	}
	s.historyFrom[r] = r.recent[0].ID
}

// rememberLocked adds a line just delivered in r to its memory for replay.
func (h *Hub) rememberLocked(r *Room, rec Record) {
	if h.cfg.Replay <= 0 {
		return
	}
	if len(r.recent) == h.cfg.Replay {
		copy(r.recent, r.recent[1:])
		r.recent = r.recent[:len(r.recent)-1]
	}
	r.recent = append(r.recent, rec)
}

// note records a join, a leave or a nick change, which is shown at once.
func (h *Hub) note(kind Kind, r *Room, s *Session, text string) {
	if h.cfg.History == nil {
		return
	}
	rec := Record{Time: h.now(), Kind: kind, From: s.name.Display, FromKey: s.name.looks[0], Text: text}
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
	var who string
	n := defaultHistory
	fields := strings.Fields(args)
	if len(fields) > 0 {
		if v, err := strconv.Atoi(fields[len(fields)-1]); err == nil {
			n = v
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
	var other Name
	if who != "" {
		var err error
		if other, err = ParseName(who); err != nil {
			s.noticef("no one was ever called %s", clean(who, MaxNameLen*4))
			return nil
		}
	}
	if !h.lockLive(s) {
		return nil
	}
	me := s.name.looks[0]
	room := s.current.Load()
	var roomKey, otherKey string
	var before int64
	if who == "" {
		roomKey, before = room.key(), s.historyFrom[room]
	} else {
		otherKey, before = other.looks[0], s.privateFrom[other.looks[0]]
	}
	h.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	recs, err := h.cfg.History.Recent(ctx, roomKey, me, otherKey, before, n)
	if err != nil {
		s.notice("the server could not read its history: try again later")
		h.log.Error("history: cannot read", "err", err)
		return nil
	}
	if len(recs) == 0 {
		s.notice("no earlier history")
		return nil
	}
	for _, rec := range recs {
		m := historyMessage(rec)
		m.Sent = rec.Kind == KindPrivate && rec.FromKey == me
		s.client.Deliver(m)
	}
	s.notice("end of history: /history again for earlier lines")
	h.mu.Lock()
	defer h.mu.Unlock()
	if who == "" {
		if s.historyFrom == nil {
			s.historyFrom = make(map[*Room]int64)
		}
		s.historyFrom[room] = recs[0].ID
	} else {
		if s.privateFrom == nil {
			s.privateFrom = make(map[string]int64)
		}
		s.privateFrom[otherKey] = recs[0].ID
	}
	return nil
}

// Bounds on /search: each costs what it shows and counts, and a user may not run many.
const (
	searchCount = 1000            // matches counted at most: "20 newest of more than 1000"
	searchEvery = 2 * time.Second // one search per user in this time
)

// searchState is where a user's last /search stopped: the same words again, in the same room,
// go on to older matches.
type searchState struct {
	at     time.Time // when the last search ran, for the rate limit
	room   *Room
	words  string // as searched, words separated by one space
	before int64  // the ID of the oldest match shown; 0: the next search starts from the newest
	shown  int    // matches shown so far
}

func (s *Session) cmdSearch(args string) error {
	h := s.hub
	if h.cfg.History == nil {
		s.notice("this server keeps no history")
		return nil
	}
	words := strings.Join(strings.Fields(clean(args, maxTopic)), " ")
	if words == "" {
		return s.usage("search")
	}
	room := s.current.Load()
	if room == nil {
		return nil
	}
	now := h.now()
	if st := &s.search; !st.at.IsZero() && now.Sub(st.at) < searchEvery {
		wait := (searchEvery - now.Sub(st.at) + time.Second - 1).Truncate(time.Second)
		s.noticef("one search every %v: try again in %v", searchEvery, wait)
		return nil
	}
	st := &s.search
	st.at = now
	if st.room != room || !strings.EqualFold(st.words, words) {
		st.room, st.words, st.before, st.shown = room, words, 0, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	page, err := h.cfg.History.Search(ctx, SearchQuery{Room: room.key(), Words: words, Before: st.before, N: maxSearch, Count: searchCount})
	if errors.Is(err, ErrBusy) {
		s.notice("the server is busy with other searches: try again in a few seconds")
		return nil
	}
	if err != nil {
		s.notice("the server could not search its history: try again later")
		h.log.Error("history: cannot search", "err", err)
		return nil
	}
	recs := page.Records
	if len(recs) == 0 {
		if st.before == 0 {
			s.noticef("nothing in %s matches %s", room.name.Display, words)
		} else {
			s.noticef("nothing older in %s matches %s", room.name.Display, words)
		}
		st.before, st.shown = 0, 0
		return nil
	}
	first := st.shown + 1
	total := fmt.Sprint(st.shown + page.Matches)
	if page.Capped {
		total = "more than " + total
	}
	more := page.Capped || page.Matches > len(recs)
	switch {
	case first > 1:
		s.noticef("lines %d to %d of %s in %s that match, newest first:", first, st.shown+len(recs), total, room.name.Display)
	case more:
		s.noticef("%d newest of %s lines in %s that match:", len(recs), total, room.name.Display)
	case len(recs) == 1:
		s.noticef("1 line in %s matches:", room.name.Display)
	default:
		s.noticef("%d lines in %s match, newest first:", len(recs), room.name.Display)
	}
	for _, rec := range recs {
		s.client.Deliver(historyMessage(rec))
	}
	if !more {
		st.before, st.shown = 0, 0
		return nil
	}
	st.before, st.shown = recs[len(recs)-1].ID, st.shown+len(recs)
	s.notice("/search the same words again for older matches")
	return nil
}
