package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
	words := searchWords(args)
	if words == "" {
		return s.usage("search")
	}
	s.sayIfBehind()
	room := s.current.Load()
	if room == nil {
		return nil
	}
	if s.search == nil {
		s.search = new(searchState)
	}
	st := s.search
	same := st.room == room && strings.EqualFold(st.words, words)
	var before int64
	if same {
		before = st.before
	}
	page, err := s.searchIn(room, words, before)
	if is(err, CodeTryLater) {
		s.tell(err)
		return nil
	}
	if !same {
		st.room, st.words, st.before, st.shown = room, words, 0, 0
	}
	if s.tell(err) {
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

// searchWords is what a search looks for in text: its words, cleaned, one space apart.
func searchWords(text string) string { return strings.Join(strings.Fields(clean(text, maxTopic)), " ") }

// Found is a page of what Search found.
type Found struct {
	Room     string     // the room searched, as shown
	Messages []*Message // the matches older than the search's before, newest first, marked History
	// Matches is how many match older than the search's before, Messages included, counted up
	// to a thousand; Capped says that more match than that.
	Matches int
	Capped  bool
}

// Search finds the lines of the room called room ("": the device's current one), which the
// member must be in, that hold every one of words, older than the line numbered before (0:
// from the newest), newest first, a page at a time: the next page is before the ID of the
// oldest match. A member may search once every two seconds (CodeTryLater), whether through
// Search or /search.
func (s *Session) Search(room, words string, before int64) (Found, error) {
	h := s.hub
	if h.cfg.History == nil {
		return Found{}, fail(CodeNotOffered, "this server keeps no history")
	}
	if words = searchWords(words); words == "" {
		return Found{}, fail(CodeNeedArgs, "no words to search for")
	}
	if !h.lockLive(s) {
		return Found{}, nil
	}
	r, err := s.roomLocked(room)
	if err == nil && !slices.Contains(s.rooms, r) {
		err = fail(CodeNotInRoom, "you are not in %s", r.name.Display)
	}
	h.mu.Unlock()
	if err != nil {
		return Found{}, err
	}
	page, err := s.searchIn(r, words, before)
	if err != nil {
		return Found{}, err
	}
	found := Found{Room: r.name.Display, Matches: page.Matches, Capped: page.Capped, Messages: make([]*Message, len(page.Records))}
	for i, rec := range page.Records {
		found.Messages[i] = historyMessage(rec)
	}
	return found, nil
}

// searchIn runs one search of words (as searchWords makes them) in room, unless the member
// searched less than searchEvery ago.
func (s *Session) searchIn(room *Room, words string, before int64) (SearchPage, error) {
	h := s.hub
	now := h.now()
	if s.search == nil {
		s.search = new(searchState)
	}
	if st := s.search; !st.at.IsZero() && now.Sub(st.at) < searchEvery {
		wait := (searchEvery - now.Sub(st.at) + time.Second - 1).Truncate(time.Second)
		return SearchPage{}, fail(CodeTryLater, "one search every %v: try again in %v", searchEvery, wait)
	}
	s.search.at = now
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	page, err := h.cfg.History.Search(ctx, SearchQuery{Room: room.key(), Words: words, Before: before, N: maxSearch, Count: searchCount})
	if errors.Is(err, ErrBusy) {
		return SearchPage{}, fail(CodeUnavailable, "the server is busy with other searches: try again in a few seconds")
	}
	if err != nil {
		h.log.Error("history: cannot search", "err", err)
		return SearchPage{}, fail(CodeUnavailable, "the server could not search its history: try again later")
	}
	return page, nil
}
