package safetext

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello world", "hello world"},
		{"empty", "", ""},
		{"unicode kept", "héllo wörld ✓ 日本", "héllo wörld ✓ 日本"},
		{"tab to space", "a\tb", "a b"},
		{"lone CR", "evil\rgood", "evilgood"},
		{"bell and NUL", "a\x07b\x00c", "abc"},
		{"DEL", "a\x7fb", "ab"},
		{"CSI color", "\x1b[31mred\x1b[0m", "red"},
		{"CSI clear screen", "x\x1b[2J\x1b[Hy", "xy"},
		{"CSI private", "\x1b[?1049hz", "z"},
		{"OSC title BEL", "\x1b]0;pwned\x07after", "after"},
		{"OSC title ST", "\x1b]2;pwned\x1b\\after", "after"},
		{"OSC 8 hyperlink", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"OSC unterminated", "before\x1b]0;never ends", "before"},
		{"DCS", "\x1bPq#0;2;0;0;0\x1b\\ok", "ok"},
		{"APC", "\x1b_secret\x07ok", "ok"},
		{"reset", "\x1bcok", "ok"},
		{"charset nF", "\x1b(Bok", "ok"},
		{"ESC at end", "ok\x1b", "ok"},
		{"ESC ESC", "\x1b\x1b[31mok", "ok"},
		{"C1 CSI", "a\u009b31mb", "ab"},
		{"C1 OSC", "a\u009d0;title\u009cb", "ab"},
		{"C1 other", "a\u0085b", "ab"},
		{"bidi override", "abc\u202egnp.exe", "abcgnp.exe"},
		{"bidi isolates", "\u2066a\u2067b\u2068c\u2069", "abc"},
		{"embedding", "\u202aa\u202bb\u202cc\u202dd", "abcd"},
		{"line separator", "a\u2028b\u2029c", "abc"},
		{"invalid utf8", "a\xffb\xc3", "a\ufffdb\ufffd"},
		{"raw 0x9b byte", "a\x9b31mb", "a\ufffd31mb"},
		{"overlong encoding", "\xc0\xaf", "\ufffd\ufffd"},
		{"malformed CSI keeps text", "\x1b[12\x01abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Clean([]byte(tt.in)); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := CleanString(tt.in); got != tt.want {
				t.Errorf("CleanString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// checkSafe fails if s holds anything Clean promises to remove.
func checkSafe(t *testing.T, in []byte, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("Clean(%q) = %q: invalid UTF-8", in, s)
	}
	for _, r := range s {
		if r == esc || isControl(r) || r == '\t' {
			t.Fatalf("Clean(%q) = %q: contains control %U", in, s, r)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"hello", "\x1b[31mred", "\x1b]0;t\x07", "\u202e", "\xff\xfe", "a\rb", "\u009b1m"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := Clean(in)
		checkSafe(t, in, out)
		if again := CleanString(out); again != out {
			t.Fatalf("Clean is not idempotent: %q -> %q -> %q", in, out, again)
		}
		if len(out) > 3*len(in) {
			t.Fatalf("output grew too much: %d -> %d", len(in), len(out))
		}
		if printableASCII(in) && out != string(in) {
			t.Fatalf("printable ASCII changed: %q -> %q", in, out)
		}
	})
}

func BenchmarkClean(b *testing.B) {
	inputs := map[string][]byte{
		"ascii":   []byte("the quick brown fox jumps over the lazy dog 0123456789"),
		"unicode": []byte("le renard brun rapide saute par-dessus le chien paresseux ✓"),
		"escapes": []byte("\x1b[31mred\x1b[0m and \x1b]0;title\x07 text"),
	}
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Clean(in)
			}
		})
	}
}
