package safetext

import (
	"strings"
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

		// IRC's colour codes go whole, and its formatting bytes as any control.
		{"IRC colour fg,bg", "\x034,5red\x03 text", "red text"},
		{"IRC colour two digits", "\x0312,01blue\x0f!", "blue!"},
		{"IRC colour fg only", "\x0304red", "red"},
		{"IRC colour third digit is text", "\x031234", "34"},
		{"IRC colour comma without digit", "\x034,hi", ",hi"},
		{"IRC colour bg third digit", "\x031,234", "4"},
		{"IRC colour reset then digits after text", "\x03 5 apples", " 5 apples"},
		{"IRC colour at end", "end\x034,", "end,"},
		{"IRC colour bare comma", "\x03,5x", ",5x"},
		{"IRC hex colour", "\x04ff0000red\x04", "red"},
		{"IRC hex colour fg,bg", "\x04FF0000,00ff00rg", "rg"},
		{"IRC hex colour short is a reset", "\x04abcx", "abcx"},
		{"IRC hex colour bad bg kept", "\x04ff0000,00gx", ",00gx"},
		{"IRC formatting", "\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e \x11mono\x11 \x16rev\x16\x0f", "bold italic under strike mono rev"},

		// Invisible characters go, except where they mean something.
		{"zero-width space", "pass\u200bword", "password"},
		{"word joiner and BOM", "\ufeffad\u2060min", "admin"},
		{"tag characters", "hi\U000e0001\U000e0069\U000e0067\U000e006e\U000e007f", "hi"},
		{"England flag loses its tags", "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", "\U0001f3f4"},
		{"invisible only", "\u200b\u200c\u200d\u2060\u3164", ""},
		{"ZWNJ in Latin", "Auf\u200clage", "Auflage"},
		{"ZWJ between letters", "a\u200db", "ab"},
		{"family emoji", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f468\u200d\U0001f469\u200d\U0001f467"},
		{"rainbow flag", "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f3f3\ufe0f\u200d\U0001f308"},
		{"skin tone and laptop", "\U0001f469\U0001f3fd\u200d\U0001f4bb", "\U0001f469\U0001f3fd\u200d\U0001f4bb"},
		{"heart on fire", "\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"},
		{"woman health worker", "\U0001f469\u200d\u2695\ufe0f", "\U0001f469\u200d\u2695\ufe0f"},
		{"ZWJ after emoji, then text", "\U0001f600\u200dx", "\U0001f600x"},
		{"ZWJ at the start", "\u200d\U0001f600", "\U0001f600"},
		{"ZWJ at the end", "\U0001f600\u200d", "\U0001f600"},
		{"ZWJ run", "\U0001f600\u200d\u200d\u200b\u200d\U0001f600", "\U0001f600\u200d\U0001f600"},
		{"ZWNJ between emoji", "\U0001f600\u200c\U0001f600", "\U0001f600\U0001f600"},
		{"Persian ZWNJ", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"},
		{"Hindi half form", "\u0915\u094d\u200d\u0937", "\u0915\u094d\u200d\u0937"},
		{"Hindi explicit virama", "\u0915\u094d\u200c\u0937", "\u0915\u094d\u200c\u0937"},
		{"Bengali ya-phala", "\u09b0\u200d\u09cd\u09af", "\u09b0\u200d\u09cd\u09af"},
		{"ZWNJ across scripts", "\u0915\u200cx \u0645\u200c\u0915", "\u0915x \u0645\u0915"},
		{"ZWNJ before a space", "\u0645\u200c \u0645", "\u0645 \u0645"},
		{"emoji presentation", "\u2764\ufe0f \u263a\ufe0e", "\u2764\ufe0f \u263a\ufe0e"},
		{"keycap", "1\ufe0f\u20e3", "1\ufe0f\u20e3"},
		{"ideographic variant", "\u845b\U000e0100", "\u845b\U000e0100"},
		{"selectors piled up", "\U0001f600\ufe0f\ufe0f\ufe0e\U000e0100", "\U0001f600\ufe0f"},
		{"selector with nothing to select", "\ufe0fa \ufe0f\u3000\ufe0f", "a \u3000"},
		{"selector after a mark", "e\u0301\ufe0f", "e\u0301"},

		// Combining marks: enough for real writing, not for Zalgo.
		{"Vietnamese decomposed", "Nguye\u0302\u0303n", "Nguye\u0302\u0303n"},
		{"Hebrew pointed and accented", "\u05e9\u05bc\u05c1\u05b8\u0591", "\u05e9\u05bc\u05c1\u05b8\u0591"},
		{"Hindi", "\u0915\u093c\u0940\u0902", "\u0915\u093c\u0940\u0902"},
		{"Zalgo", "e\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a!", "e\u0301\u0302\u0303\u0304!"},
		{"Zalgo split by invisibles", "e\u0301\u0302\u0303\u200b\u034f\u0304\u0305\u0306", "e\u0301\u0302\u0303\u0304"},
		{"Zalgo split by an escape", "e\u0301\u0302\x1b[0m\u0303\u0304\u0305", "e\u0301\u0302\u0303\u0304"},
		{"marks with no base", "\u0301\u0302\u0303\u0304\u0305\u0306x", "\u0301\u0302\u0303\u0304x"},
		{"enclosing marks", "x\u20dd\u20dd\u20dd\u20dd\u20dd\u20dd", "x\u20dd\u20dd\u20dd\u20dd"},
		{"precomposed then marks", "\u00e9\u0301\u0302\u0303\u0304\u0305", "\u00e9\u0301\u0302\u0303\u0304"},
		{"spacing marks are not counted", "\u0915\u093e\u093e\u093e\u093e\u093e", "\u0915\u093e\u093e\u093e\u093e\u093e"},
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

// TestCleanInvisible checks that each invisible character the issue names, and each other
// default-ignorable one, is removed from between two letters.
func TestCleanInvisible(t *testing.T) {
	var invisible []rune
	for _, span := range [][2]rune{
		{0x200b, 0x200f}, {0x061c, 0x061c}, {0x2060, 0x2064}, {0x206a, 0x206f}, {0xfeff, 0xfeff},
		{0xe0000, 0xe007f}, {0x00ad, 0x00ad}, {0x034f, 0x034f}, {0x115f, 0x1160},
		{0x3164, 0x3164}, {0xffa0, 0xffa0}, {0x180b, 0x180f}, {0x1d173, 0x1d17a},
		{0x17b4, 0x17b5}, {0x2065, 0x2065}, {0xfff9, 0xfffb}, {0x1bca0, 0x1bca3}, {0xe01f0, 0xe0fff},
	} {
		for r := span[0]; r <= span[1]; r++ {
			invisible = append(invisible, r)
		}
	}
	for _, r := range invisible {
		in := "ab" + string(r) + "cd"
		if got := Clean([]byte(in)); got != "abcd" {
			t.Errorf("Clean(%q) = %q, want %q", in, got, "abcd")
		}
		if !Invisible(r) {
			t.Errorf("Invisible(%U) = false", r)
		}
	}
	for _, r := range []rune{' ', 'a', 0xa0, 0xe9, 0x301, 0x3000, 0x2800, 0x1f600, 0xfffd, 0x200a} {
		if Invisible(r) {
			t.Errorf("Invisible(%U) = true", r)
		}
	}
}

// checkSafe fails if s holds anything Clean promises to remove.
func checkSafe(t *testing.T, in []byte, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("Clean(%q) = %q: invalid UTF-8", in, s)
	}
	marks := 0
	for _, r := range s {
		switch {
		case r == esc || isControl(r) || r == '\t':
			t.Fatalf("Clean(%q) = %q: contains control %U", in, s, r)
		case isMark(r) || isVariationSelector(r):
			if marks++; marks > MaxMarks {
				t.Fatalf("Clean(%q) = %q: more than %d marks on a character", in, s, MaxMarks)
			}
		case r == zwj || r == zwnj:
		case Invisible(r):
			t.Fatalf("Clean(%q) = %q: contains invisible %U", in, s, r)
		default:
			marks = 0
		}
	}
	for _, j := range []string{"\u200d", "\u200c"} {
		if strings.HasPrefix(s, j) || strings.HasSuffix(s, j) || strings.Contains(s, j+j) {
			t.Fatalf("Clean(%q) = %q: a joiner that joins nothing", in, s)
		}
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"hello", "\x1b[31mred", "\x1b]0;t\x07", "\u202e", "\xff\xfe", "a\rb", "\u009b1m",
		"\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0915\u094d\u200d\u0937", "\u0645\u06cc\u200c\u062e",
		"e\u0301\u0302\u0303\u200b\u0304\u0305", "\u2764\ufe0f\ufe0f", "\U0001f3f4\U000e0067\U000e007f",
		"\x034,5red\x03", "\x04ff0000,00FF00x\x04", "\x0312,"} {
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
		"ascii":    []byte("the quick brown fox jumps over the lazy dog 0123456789"),
		"unicode":  []byte("le renard brun rapide saute par-dessus le chien paresseux ✓"),
		"escapes":  []byte("\x1b[31mred\x1b[0m and \x1b]0;title\x07 text"),
		"cyrillic": []byte("Съешь же ещё этих мягких французских булок, да выпей чаю"),
		"hindi":    []byte("ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले"),
		"emoji":    []byte("great job 👍🏽 see you 👨‍👩‍👧 at the 🏳️‍🌈 party 🎉"),
		"zalgo":    []byte("h\u0315\u0341\u035de\u0336\u0327\u0328\u035c\u0322l\u0338\u0321\u0489l\u0334o\u200b\u200b\u2060 w\u0337o\u0335rld"),
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
