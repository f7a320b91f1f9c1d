package chat

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		typed, display, key string
	}{
		{"alice", "alice", "alice"},
		{"Alice", "Alice", "alice"},
		{"  bob\t", "bob", "bob"},
		{"ＡＬＩＣＥ", "ALICE", "alice"}, // fullwidth forms are the same name
		{"Zoë", "Zoë", "zoë"},
		{"Zoe\u0308", "Zoë", "zoë"}, // NFC: e + combining diaeresis is ë
		{"ΣΊΣΥΦΟΣ", "ΣΊΣΥΦΟΣ", "σίσυφοσ"},
		{"日本語", "日本語", "日本語"},
		{"_under_", "_under_", "_under_"},
		{"a.b-c[d]", "a.b-c[d]", "a.b-c[d]"},
		{"9lives", "9lives", "9lives"},
		{strings.Repeat("x", MaxNameLen), strings.Repeat("x", MaxNameLen), strings.Repeat("x", MaxNameLen)},
	}
	for _, tt := range tests {
		n, err := ParseName(tt.typed)
		if err != nil {
			t.Errorf("ParseName(%q): %v", tt.typed, err)
			continue
		}
		if n.Display != tt.display || n.Key != tt.key {
			t.Errorf("ParseName(%q) = %+v, want display %q key %q", tt.typed, n, tt.display, tt.key)
		}
	}
}

func TestParseNameRefuses(t *testing.T) {
	tests := []struct{ typed, reason string }{
		{"", "at least one character"},
		{"   ", "at least one character"},
		{"a b", "cannot contain spaces"},
		{"a\u00a0b", "cannot contain spaces"},
		{"a\x1bb", "control characters"},
		{"a\u200bb", "control characters"}, // zero-width space
		{"a\u202eb", "control characters"},
		{"\xff", "valid UTF-8"},
		{strings.Repeat("x", MaxNameLen+1), "at most 32 characters"},
		{"snow☃", "letters, digits and punctuation"},
		{"smile😀", "letters, digits and punctuation"},
		{"/nick", "start with a letter"},
		{"*", "start with a letter"},
		{"#room", "start with a letter"},
		{"<bob>", "start with a letter"},
		{"аlice", "cannot mix Cyrillic and Latin letters"}, // Cyrillic а
		{"pаypаl", "cannot mix Latin and Cyrillic letters"},
		{"οmega", "cannot mix Greek and Latin letters"}, // Greek ο
	}
	for _, tt := range tests {
		_, err := ParseName(tt.typed)
		var bad *NameError
		if !errors.As(err, &bad) || !strings.Contains(bad.Reason, tt.reason) {
			t.Errorf("ParseName(%q) = %v, want a reason with %q", tt.typed, err, tt.reason)
		}
	}
}

// TestLookAlikes checks real look-alike pairs against the confusable skeletons (Unicode
// confusables.txt): each pair is one name, so one cannot be taken while the other is online.
func TestLookAlikes(t *testing.T) {
	same := [][2]string{
		{"alice", "ALICE"},
		{"alice", "ａｌｉｃｅ"},                   // fullwidth
		{"ace", "\u0430\u0441\u0435"},        // all Cyrillic: а с е
		{"xopa", "\u0445\u043e\u0440\u0430"}, // Cyrillic х о р а
		{"mike", "rnike"},                    // m and rn
		{"bob", "b0b"},                       // 0 and o
		{"bill", "biII"},                     // l and capital I
		{"lol", "1o1"},                       // 1 and l
		{"Zoë", "Zoe\u0308"},                 // composed and decomposed
		{"ABE", "\u0391\u0392\u0395"},        // all Greek capitals: Α Β Ε
	}
	for _, p := range same {
		a, err := ParseName(p[0])
		if err != nil {
			t.Fatalf("ParseName(%q): %v", p[0], err)
		}
		b, err := ParseName(p[1])
		if err != nil {
			t.Fatalf("ParseName(%q): %v", p[1], err)
		}
		if !a.SameAs(b) || !b.SameAs(a) {
			t.Errorf("%q and %q look alike but are different names (skeletons %q, %q)", p[0], p[1], a.looks, b.looks)
		}
	}
	different := [][2]string{{"alice", "alicia"}, {"bob", "rob"}, {"ann", "anna"}, {"lee", "iee"}}
	for _, p := range different {
		a, _ := ParseName(p[0])
		b, _ := ParseName(p[1])
		if a.SameAs(b) {
			t.Errorf("%q and %q are different names, but SameAs says they are one", p[0], p[1])
		}
	}
}

func TestParseRoom(t *testing.T) {
	for typed, display := range map[string]string{"go": "#go", "#Go": "#Go", " #rust ": "#rust", "lobby": "#lobby"} {
		r, err := ParseRoom(typed)
		if err != nil || r.Display != display {
			t.Errorf("ParseRoom(%q) = %q, %v; want %q", typed, r.Display, err, display)
		}
	}
	for _, typed := range []string{"", "#", "##go", "a b", "#\x1b[1m", "go☃"} {
		if _, err := ParseRoom(typed); err == nil {
			t.Errorf("ParseRoom(%q) accepted", typed)
		}
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"alice", "ＡＬＩＣＥ", "Zoe\u0308", "a b", "\x1b[1m", "ǅemal", "ﬀ", "İstanbul"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		n, err := ParseName(typed)
		if err != nil {
			return
		}
		if !utf8.ValidString(n.Display) || n.Display == "" || utf8.RuneCountInString(n.Display) > MaxNameLen {
			t.Fatalf("ParseName(%q) accepted display %q", typed, n.Display)
		}
		if strings.ContainsFunc(n.Display, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || isFormat(r)
		}) {
			t.Fatalf("ParseName(%q) accepted %q with a space or control", typed, n.Display)
		}
		// A name shown to others must parse back to itself.
		again, err := ParseName(n.Display)
		if err != nil || again.Key != n.Key {
			t.Fatalf("ParseName(%q) = %+v, but its display parses to %+v, %v", typed, n, again, err)
		}
	})
}
