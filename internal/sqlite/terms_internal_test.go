package sqlite

import (
	"strings"
	"testing"
)

// TestTermsFold checks that a search's words give the terms of the lines they should find,
// whatever their case, diacritics, punctuation and length.
func TestTermsFold(t *testing.T) {
	long := "x" + strings.Repeat("ж", 40) // 81 bytes: 64 would cut a character
	for _, tt := range []struct{ line, search string }{
		{"Hello, World!", "hello world"},
		{"café au lait", "CAFE"},
		{"ÉCOLE élémentaire", "ecole ELEMENTAIRE"},
		{"don't panic", "don t"},
		{"Straße 12", "straße 12"},
		{"日本語のテキスト", "日本語のテキスト"},
		{long + "x", long + "y"},
	} {
		line := " " + string(appendTerms(nil, "go", tt.line)) + " "
		for _, term := range strings.Fields(string(appendTerms(nil, "go", tt.search))) {
			if !strings.Contains(line, " "+term+" ") {
				t.Errorf("%q does not find %q: term %s not in %s", tt.search, tt.line, term, line)
			}
		}
	}
	if a, b := appendTerms(nil, "go", "x"), appendTerms(nil, "gO.", "x"); string(a) == string(b) {
		t.Errorf("two rooms share a term: %s", a)
	}
	// Query syntax is words or nothing.
	if got := strings.Fields(string(appendTerms(nil, "go", `" OR * NEAR( -:^`))); len(got) != 2 {
		t.Errorf("query syntax made terms %s, want those of the words or and near", got)
	}
}

func BenchmarkLineTerms(b *testing.B) {
	for b.Loop() {
		appendTerms(nil, "tall", "line 123456 of the tall room, with a few more words in it")
	}
}
