package chat

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/safetext"
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
		// Names in other scripts, and accented ones, are still names.
		{"Ελένη", "Ελένη", "ελένη"},
		{"Дмитрий", "Дмитрий", "дмитрий"},
		{"李雷", "李雷", "李雷"},
		{"José", "José", "josé"},
		{"Nguyễn", "Nguyễn", "nguyễn"},
		{"Nguye\u0302\u0303n", "Nguyễn", "nguyễn"}, // two marks on one letter
		{"שָׁלוֹם", "שָׁלוֹם", "שָׁלוֹם"},          // pointed Hebrew
		{"हिन्दी", "हिन्दी", "हिन्दी"},
		{"क़ीं", "क़ीं", "क़ीं"}, // nukta, vowel sign, nasal sign
		{"がっこう", "がっこう", "がっこう"},
		{"김민준", "김민준", "김민준"},
		{"محمد", "محمد", "محمد"},
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
		{"a\u200bb", "invisible characters"}, // zero-width space
		{"a\u202eb", "control characters"},   // a bidi override
		{"a\u2067b", "control characters"},   // a bidi isolate
		{"a\u200db", "invisible characters"},
		{"a\u2060b", "invisible characters"},
		{"a\u00adb", "invisible characters"}, // soft hyphen
		{"a\u034fb", "invisible characters"}, // combining grapheme joiner
		{"a\u3164b", "invisible characters"}, // Hangul filler
		{"a\ufe0fb", "invisible characters"},
		{"a\U000e0041b", "invisible characters"},
		{"a" + strings.Repeat("\u0301", 30) + "lice", "at most 3 accents or marks on a letter"},
		{"Ze\u0301\u0302\u0303\u0304", "at most 3 accents or marks on a letter"},
		{"\u00e9\u0302\u0303\u0304", "at most 3 accents or marks on a letter"}, // é is e and a mark
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
		// Accents and small capitals (issue 12).
		{"alice", "\u1d00lice"},                     // small capital ᴀ
		{"alice", "alic\u025b"},                     // open e ɛ
		{"alice", "\u0250lice"},                     // turned a ɐ
		{"alice", "alic\u0117"},                     // ė
		{"alice", "al\u00ecce"},                     // ì
		{"alice", "a\u0301\u0302\u0303lice"},        // a with three accents
		{"alice", "\u2c65lice"},                     // ⱥ, a with a stroke
		{"bob", "\u0299o\u0299"},                    // ʙoʙ
		{"root", "\u0280oo\u1d1b"},                  // ʀooᴛ
		{"José", "Jose"},                            // accents do not make another name
		{"Zoë", "Zoe"},                              //
		{"Nguyễn", "Nguyen"},                        //
		{"שלום", "שָׁלוֹם"},                         // Hebrew with and without points
		{"محمد", "مُحَمَّد"},                        // Arabic with and without vowels
		{"\u0395\u03bb\u03ad\u03bd\u03b7", "Ελενη"}, // Ελένη, Ελενη
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
	different := [][2]string{
		{"alice", "alicia"}, {"bob", "rob"}, {"ann", "anna"}, {"lee", "iee"},
		// Where marks are vowels or voicing, they make another name.
		{"कुल", "कल"}, {"कि", "क"}, {"が", "か"}, {"กิน", "กน"},
	}
	for _, p := range different {
		a, _ := ParseName(p[0])
		b, _ := ParseName(p[1])
		if a.SameAs(b) {
			t.Errorf("%q and %q are different names, but SameAs says they are one", p[0], p[1])
		}
	}
}

// TestReserved checks which user names the hub refuses as reserved: the stems of issue 12 in
// each disguise, the exact words and the commands; and that ordinary names, and rooms, are not.
func TestReserved(t *testing.T) {
	h := NewHub(DefaultConfig(), slog.New(slog.DiscardHandler))
	reserved := []string{
		"server", "Server.", "server_", "SERVER", "5erver", "serv3r", "s3rv3r", "servers", "server2",
		"s.e.r.v.e.r", "\u0455erver", "\u1d00dmin", "admin", "adm1n", "adm!n", "admins", "Admin_",
		"ADMINISTRATOR", "adrnin", "adm\u00ecn", "admín", "4dmin", "oper", "0per", "operator", "Operators",
		"ChanServ", "NickServ", "chan_serv", "MemoServ", "root", "r00t", "Root2", "\u0280oot",
		"system", "SYSTEM", "5y5tem", "hubbub", "HubBub", "hubbub_", "lobby", "moderator",
		"staff", "help", "msg", "quit", "who", "wh0",
		// Turned, reversed, open and insular letters.
		"sɛrver", "admᴉn", "ChanSerʋ", "rɔot", "hɛlp", "ꞅystem", "stɐff",
		"ɔper", "services", "sysop", "mod",
	}
	for _, typed := range reserved {
		n, err := ParseName(typed)
		if err != nil {
			continue // refused anyway (mixed scripts)
		}
		if !h.isReserved(n) {
			t.Errorf("%q is not reserved (forms %q)", typed, n.reservedForms())
		}
	}
	free := []string{
		"alice", "bob", "serena", "observer", "servo", "rooted", "roots", "systems_guy", "Adam",
		"hub", "Ελένη", "Дмитрий", "李雷", "José", "Zoë", "Nguyễn", "9lives", "_under_", "mike",
	}
	for _, typed := range free {
		n, err := ParseName(typed)
		if err != nil {
			t.Errorf("ParseName(%q): %v", typed, err)
			continue
		}
		if h.isReserved(n) {
			t.Errorf("%q is reserved (forms %q)", typed, n.reservedForms())
		}
	}
	for _, room := range []string{"#server", "admins", "ChanServ"} {
		if _, err := ParseRoom(room); err != nil {
			t.Errorf("ParseRoom(%q): %v", room, err)
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
	for _, s := range []string{"alice", "ＡＬＩＣＥ", "Zoe\u0308", "a b", "\x1b[1m", "ǅemal", "ﬀ", "İstanbul",
		"\u1d00lice", "a\u0301\u0302\u0303\u0304lice", "שָׁלוֹם", "क़ीं", "adm1n", "a\u200db"} {
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
			return unicode.IsSpace(r) || unicode.IsControl(r) || isFormat(r) || safetext.Invisible(r)
		}) {
			t.Fatalf("ParseName(%q) accepted %q with a space, control or invisible character", typed, n.Display)
		}
		if tooManyMarks(n.Display) {
			t.Fatalf("ParseName(%q) accepted %q with too many marks", typed, n.Display)
		}
		// A name is one name with itself, and its forms can be taken.
		if !n.SameAs(n) {
			t.Fatalf("ParseName(%q) = %+v is not the same as itself", typed, n)
		}
		n.reservedForms()
		// A name shown to others must parse back to itself.
		again, err := ParseName(n.Display)
		if err != nil || again.Key != n.Key {
			t.Fatalf("ParseName(%q) = %+v, but its display parses to %+v, %v", typed, n, again, err)
		}
	})
}
