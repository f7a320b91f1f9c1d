package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"modernc.org/sqlite"

	"hubbub/internal/chat"
)

// How lines are found. Each word of a line is indexed as a term of its room: "r" and a hash of
// the room's key, then "w" and the word (folded to lower case, diacritics removed) when it is
// ASCII, or "x" and its bytes in hex when it is not,
// so that the terms of a search select the lines of one room only, and a common word in a
// busy room costs nothing to a search of a quiet one. Terms are plain ASCII letters and
// digits: FTS5's ascii tokenizer takes each whole, and nothing a user types becomes query
// syntax.

const (
	termsFunc   = "hubbub_search_terms" // the SQL function that makes a line's terms
	maxWords    = 10                    // words of a search
	maxWordSize = 64                    // bytes of a word indexed; longer words match on these
)

// registerTerms makes termsFunc known to the connections the driver opens. The driver keeps
// its functions for the life of the process, and refuses a name twice: hence once.
var registerTerms = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(termsFunc, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		room, _ := args[0].(string)
		text, _ := args[1].(string)
		return string(appendTerms(nil, room, text)), nil
	})
})

// appendTerms appends to b the index terms of the words of text, said in room, separated by
// spaces. It runs for every line indexed, inside the writer's transaction: hence no map, no
// string per word, and no Unicode normalization of ASCII text.
func appendTerms(b []byte, room, text string) []byte {
	prefix := roomPrefix(room)
	if !isASCII(text) {
		text = fold(text)
	}
	start := -1 // of the word being read
	for i := 0; i <= len(text); i++ {
		var c byte = ' '
		if i < len(text) {
			c = text[i]
		}
		if c >= utf8.RuneSelf || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			b = appendTerm(b, prefix, text[start:i])
			start = -1
		}
	}
	return b
}

func appendTerm(b []byte, prefix, w string) []byte {
	if len(w) > maxWordSize {
		w = w[:maxWordSize]
		for !utf8.ValidString(w) { // cut inside a character
			w = w[:len(w)-1]
		}
	}
	if len(b) > 0 {
		b = append(b, ' ')
	}
	b = append(b, prefix...)
	if isASCII(w) { // letters and digits: the word itself, in lower case
		b = append(b, 'w')
		for i := 0; i < len(w); i++ {
			c := w[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return b
	}
	b = append(b, 'x') // other scripts: the word's bytes in hex
	for i := 0; i < len(w); i++ {
		b = append(b, hexDigits[w[i]>>4], hexDigits[w[i]&0xf])
	}
	return b
}

const hexDigits = "0123456789abcdef"

// roomPrefix starts the terms of a room's words: 48 bits of hash, in as few characters as the
// index must store with every word (two rooms that shared it would only share their terms:
// the rows found are checked against the room).
func roomPrefix(room string) string {
	sum := sha256.Sum256([]byte(room))
	return "r" + hex.EncodeToString(sum[:6])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fold folds text as FTS5's unicode61 tokenizer does: lower case, without diacritics, and
// with every character that is not a letter or a digit made a space (ASCII, so that
// appendTerms splits there).
func fold(text string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// Search implements chat.Lines. The query's terms select the room's lines, and the index
// hands them over newest first: the query stops after what it returns and counts, whatever
// the room and the database hold.
func (s *Store) Search(ctx context.Context, q chat.SearchQuery) (chat.SearchPage, error) {
	terms := strings.Fields(string(appendTerms(nil, q.Room, q.Words)))
	terms = terms[:min(len(terms), maxWords)]
	if len(terms) == 0 || q.N <= 0 {
		return chat.SearchPage{}, nil
	}
	count := max(q.Count, q.N)
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}

	wait := time.NewTimer(s.cfg.SearchWait)
	defer wait.Stop()
	select {
	case s.searches <- struct{}{}:
		defer func() { <-s.searches }()
	case <-wait.C:
		return chat.SearchPage{}, fmt.Errorf("search: %w", chat.ErrBusy)
	case <-ctx.Done():
		return chat.SearchPage{}, fmt.Errorf("search: %w", ctx.Err())
	case <-s.stop:
		return chat.SearchPage{}, ErrClosed
	}

	// Lines are indexed in bulk: have the writer index what waits before searching.
	indexed := make(chan struct{})
	s.enqueue(op{index: indexed})
	select {
	case <-indexed:
	case <-ctx.Done():
		return chat.SearchPage{}, fmt.Errorf("search: %w", ctx.Err())
	case <-s.stop:
		return chat.SearchPage{}, ErrClosed
	}

	// Terms are letters and digits only: the MATCH is their AND, and never anything else.
	rows, err := s.rdb.QueryContext(ctx, `SELECT -rowid FROM messages_fts WHERE messages_fts MATCH ? AND rowid > ?
		ORDER BY rowid LIMIT ?`, strings.Join(terms, " "), -before, count+1)
	if err != nil {
		return chat.SearchPage{}, fmt.Errorf("search: %w", err)
	}
	var ids []any
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return chat.SearchPage{}, fmt.Errorf("search: %w", err)
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return chat.SearchPage{}, fmt.Errorf("search: %w", err)
	}
	page := chat.SearchPage{Matches: min(len(ids), count), Capped: len(ids) > count}
	if len(ids) == 0 {
		return page, nil
	}
	ids = ids[:min(len(ids), q.N)]
	rows, err = s.rdb.QueryContext(ctx, selectMessage+` WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) AND room = ?
		ORDER BY id DESC`, append(ids, q.Room)...)
	if err != nil {
		return chat.SearchPage{}, fmt.Errorf("search: %w", err)
	}
	if page.Records, err = scanRecords(rows); err != nil {
		return chat.SearchPage{}, fmt.Errorf("search: %w", err)
	}
	return page, nil
}
