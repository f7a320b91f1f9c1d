package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/sqlite"
)

// tallRoom is how many lines the benchmark's big room holds: the size of room issue 12 timed.
const tallRoom = 1_000_000

// BenchmarkSearch searches a database with a room of a million lines, every one of them with
// the word "the", and a small room beside it. The database is made once, through the store's
// own write path.
func BenchmarkSearch(b *testing.B) {
	cfg := sqlite.DefaultConfig(filepath.Join(b.TempDir(), "hubbub.db"))
	cfg.RetainEvery, cfg.MaxRows, cfg.MaxAge = 0, 0, 0
	s, err := sqlite.Open(b.Context(), cfg, discard())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	at := time.Now()
	for i := range tallRoom {
		text := fmt.Sprintf("line %d of the tall room", i)
		if i%40_000 == 0 {
			text += " needle" // 25 lines
		}
		s.Store(line("tall", "alice", text, at), nil)
		if i%1000 == 0 {
			s.Store(line("small", "bob", fmt.Sprintf("the small room's line %d", i), at), nil)
		}
	}
	done := make(chan error, 1)
	s.Store(line("tall", "alice", "last", at), func(_ chat.Record, err error) { done <- err })
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if _, err := search(b, s, "tall", 0, "the", 20); err != nil { // indexes what waits
		b.Fatal(err)
	}
	b.Logf("setup: %d lines in %v", tallRoom+tallRoom/1000, time.Since(start).Round(time.Millisecond))

	for _, bb := range []struct {
		name, room, words string
		before            int64
	}{
		{"common word in the tall room", "tall", "the", 0},
		{"two common words in the tall room", "tall", "tall room", 0},
		{"rare word in the tall room", "tall", "needle", 0},
		{"common word in the small room", "small", "the", 0},
		{"no match", "tall", "nothing", 0},
		{"a page from the middle of the tall room", "tall", "the", tallRoom / 2},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.Search(b.Context(), chat.SearchQuery{Room: bb.room, Words: bb.words, Before: bb.before, N: 20, Count: 1000})
				if err != nil || len(page.Records) == 0 && bb.words != "nothing" {
					b.Fatal(err)
				}
			}
		})
	}
}
