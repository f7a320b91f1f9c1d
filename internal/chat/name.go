package chat

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"

	"hubbub/internal/safetext"
)

// MaxNameLen is the longest name, in characters (Unicode code points). Room names follow the
// same rule and limit, not counting their '#'.
const MaxNameLen = 32

// NameError says why a name was refused, in words for the user.
type NameError struct{ Reason string }

func (e *NameError) Error() string { return "bad name: " + e.Reason }

func badName(format string, args ...any) error {
	return &NameError{Reason: fmt.Sprintf(format, args...)}
}

// Name is a valid user or room name: what others see, the key it is looked up by, and the
// skeletons it is compared by.
//
// The rule: a name is the PRECIS UsernameCasePreserved form (RFC 8265) of what the user typed,
// with surrounding spaces trimmed: valid UTF-8; letters, digits and printable ASCII punctuation
// only (so no spaces, controls, invisible characters, symbols or emoji); fullwidth forms mapped
// to their normal width; normalized to NFC. It is 1 to MaxNameLen characters and starts with a
// letter, a digit or '_', so it cannot be mistaken for a command (/), a notice (*) or a room
// (#). No letter carries more than maxNameMarks combining marks (accents, points, vowel signs
// counted after decomposition): enough for Vietnamese (ễ is two), pointed Hebrew and Hindi, and
// no Zalgo. Its letters come from one script, or from Latin together with the scripts of
// Chinese, Japanese or Korean (the "highly restrictive" level of Unicode TR39), so that no name
// mixes, say, Cyrillic and Latin letters to look like another.
//
// Two names are the same name when they look alike on screen: when one of their skeletons is
// equal. A skeleton is made in four steps: the name is decomposed (NFD) and the combining marks
// on Latin, Greek, Cyrillic, Armenian, Hebrew and Arabic letters are removed (there they are
// accents and optional vowel points, small enough to miss; in Indic, Thai or Japanese writing
// they are vowels and voicing and stay); letters that carry their mark built in and small
// capitals, which Unicode's confusables table does not map, are replaced by their plain letter
// (ᴀ and ⱥ are a; see letterFolds); then the TR39 skeleton is taken from Unicode 13's
// confusables.txt as tabled by github.com/mtibben/confusables, its marks removed again, and
// the result lower-cased. Each name has two skeletons, of its lower-case form and of the name
// as written, since case folding and look-alikes each hide what the other sees: "ALICE" is
// "alice" only once lower-cased, while "biII" (two capital i) looks like "bill" only as written.
// So "Alice", "ALICE", "ａｌｉｃｅ", "аlice" with a Cyrillic а, "ᴀlice", "alicė", "alìce",
// "rnike" and "mike", "b0b" and "bob" are each one name, and so are "José" and "Jose", "Zoë"
// and "Zoe", "Nguyễn" and "Nguyen": a person who writes their name with its accents and one who
// writes it without cannot be online at once.
type Name struct {
	Display string
	Key     string    // the PRECIS UsernameCaseMapped form: "Alice" and "ALICE" are "alice"
	looks   [2]string // the confusable skeletons
}

// ParseName checks typed against the name rule. A refusal is a *NameError that says in a few
// words what is wrong, for the user to read.
func ParseName(typed string) (Name, error) { return parseName(typed, "names") }

// ParseRoom checks a room name: one leading '#' is optional, and the rest follows the name
// rule. Its Display starts with '#'.
func ParseRoom(typed string) (Name, error) {
	n, err := parseName(strings.TrimPrefix(strings.Trim(typed, " \t"), "#"), "room names")
	if err != nil {
		return Name{}, err
	}
	n.Display = "#" + n.Display
	return n, nil
}

func parseName(typed, what string) (Name, error) {
	s := strings.Trim(typed, " \t")
	switch {
	case s == "":
		return Name{}, badName("a name needs at least one character")
	case !utf8.ValidString(s):
		return Name{}, badName("%s must be valid UTF-8", what)
	case strings.ContainsFunc(s, unicode.IsSpace):
		return Name{}, badName("%s cannot contain spaces", what)
	case strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsFunc(s, isBidiControl):
		return Name{}, badName("%s cannot contain control characters", what)
	case strings.ContainsFunc(s, safetext.Invisible):
		return Name{}, badName("%s cannot contain invisible characters", what)
	case strings.ContainsFunc(s, isFormat):
		return Name{}, badName("%s cannot contain control characters", what)
	}
	display, err := precis.UsernameCasePreserved.String(s)
	if err != nil {
		return Name{}, badName("%s may use letters, digits and punctuation only", what)
	}
	key, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return Name{}, badName("%s may use letters, digits and punctuation only", what)
	}
	if tooManyMarks(display) {
		return Name{}, badName("%s may carry at most %d accents or marks on a letter", what, maxNameMarks)
	}
	if n := utf8.RuneCountInString(display); n > MaxNameLen {
		return Name{}, badName("%s are at most %d characters", what, MaxNameLen)
	}
	if first, _ := utf8.DecodeRuneInString(display); !unicode.IsLetter(first) && !unicode.IsDigit(first) && first != '_' {
		return Name{}, badName("%s must start with a letter, a digit or _", what)
	}
	if a, b, mixed := mixedScripts(display); mixed {
		return Name{}, badName("%s cannot mix %s and %s letters", what, a, b)
	}
	return Name{Display: display, Key: key, looks: [2]string{skeleton(key), skeleton(display)}}, nil
}

// maxNameMarks is how many combining marks one letter of a name may carry, counted after
// decomposition: Vietnamese needs two (ễ), Hebrew with a dagesh, a shin dot and a vowel
// three, Hindi with a nukta, a vowel sign and a nasal sign three. Messages allow a little more
// (safetext.MaxMarks); a name is shown everywhere and is not Zalgo.
const maxNameMarks = 3

func tooManyMarks(s string) bool {
	marks := 0
	for _, r := range norm.NFD.String(s) {
		if !isMark(r) {
			marks = 0
		} else if marks++; marks > maxNameMarks {
			return true
		}
	}
	return false
}

// skeleton is what s looks like, for comparing names (see Name).
func skeleton(s string) string {
	s = foldLetters(dropAccents(norm.NFD.String(s)))
	return strings.ToLower(dropAccents(confusables.Skeleton(s)))
}

// dropAccents removes the combining marks from the letters of decomposed s whose marks are
// accents or optional points (see Name).
func dropAccents(s string) string {
	if !strings.ContainsFunc(s, isMark) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	var base rune  // the last letter
	known := false // whether accented is known for base
	accented := false
	for _, r := range s {
		if !isMark(r) {
			base, known = r, false
			b.WriteRune(r)
			continue
		}
		if !known {
			accented, known = unicode.In(base, accentScripts...), true
		}
		if !accented {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isMark(r rune) bool { return r >= 0x300 && unicode.In(r, unicode.Mn, unicode.Me) }

// accentScripts are the scripts whose combining marks a skeleton ignores. Common and Inherited
// cover digits and punctuation, and letters the confusables table maps to symbols.
var accentScripts = []*unicode.RangeTable{
	unicode.Latin, unicode.Greek, unicode.Cyrillic, unicode.Armenian, unicode.Hebrew,
	unicode.Arabic, unicode.Common, unicode.Inherited,
}

func foldLetters(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x188 { // below the first letter in the table
			return r
		}
		if to, ok := letterFolds[r]; ok {
			return to
		}
		return r
	}, s)
}

// letterFolds maps letters that look like a plain letter and that neither decomposition nor
// confusables.txt maps to it: small capitals (ᴀ ʙ ᴅ ᴇ ... of U+1D00–U+1D2B and elsewhere) and
// letters with a hook, curl, stroke, bar or tail drawn into them (ƈ ȡ ⱥ ꝑ). The Latin ones are
// every letter whose Unicode name is "LATIN ... LETTER [SMALL CAPITAL|DOTLESS] X [WITH ...]"
// and whose skeleton is not already a plain letter; each string is a letter, then what folds
// to it.
var letterFolds = foldTable(
	"aȺᴀᶏⱥ", "bɃʙᵬᶀꞖꞗ", "cƈȻɕꞒꞓꞔꟄ𝼝", "dƋȡᴅᵭᶁᶑꟇꟈ", "eᴇᶒⱸꬴ", "fᶂꜰ", "gɢʛꞠꞡ", "hʜⱨꞕꞪ",
	"iᶖꞮ𝼚", "jȷʝᴊ", "kᴋᶄⱪꝁꝂꝃꝄꝅꞢꞣ", "lȴȽɬʟᴌᶅⱠⱡⱢꝈꝉꞎꞭꬷꬸꬹ𝼄𝼑𝼓", "mᴍᶆⱮꬺ",
	"nȠȵɲɴᶇꞐꞑꞤꞥꬻ", "oⱺꝌꝍ𝼛", "pᴘᵱᶈⱣꝐꝑꝒꝓꝔꝕ", "qɋꝖꝗꝘꝙꞯ", "rɌɾʀᵳᶉⱤꞦꞧꭆꭉ𝼖",
	"sȿᶊⱾꞨꞩꟅꟉꟊ𝼞", "tƫȶʈᴛⱦ𝼉", "uᶙꞸꞹ", "vƲⱱⱴꝞꝟ", "wⱲⱳ", "xᶍꭖꭗꭘꭙ", "yỾ", "zɀʑᶎⱫⱬⱿꟆ",
	// Greek and Cyrillic small capitals.
	"γᴦ", "λᴧ", "πᴨ", "ρᴩ", "ψᴪ", "лᴫ",
	// Turned, reversed, open, barred and insular letters, which read as the plain letter in a
	// name: sɛrver, admᴉn, rɔot, ꞅystem, stɐff.
	"aɐⱯɑⱭɒⱰ", "dꝺꝹ", "eɛƐǝƎɘɜɞᴈ", "hɥꞍ", "iᴉ", "mɯƜ", "oɔƆɵƟ", "rɹꞃꞂꝛꝚɺɻ", "sꞅꞄ", "tʇꞇꞆ",
	"uʉɄ", "vʋʌɅ", "yʎ",
)

func foldTable(rows ...string) map[rune]rune {
	m := make(map[rune]rune)
	for _, row := range rows {
		to, size := utf8.DecodeRuneInString(row)
		for _, from := range row[size:] {
			m[from] = to
		}
	}
	return m
}

// SameAs reports whether n and o are one name: whether they look alike.
func (n Name) SameAs(o Name) bool {
	for _, a := range n.looks {
		for _, b := range o.looks {
			if a == b {
				return true
			}
		}
	}
	return false
}

// isFormat reports invisible format characters (Unicode category Cf: bidi controls, zero-width
// joiners), which would let two different names look the same.
func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }

// isBidiControl reports the embeddings, overrides and isolates that reorder text: invisible
// too, but what they do is control the text around them.
func isBidiControl(r rune) bool { return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 }

// scripts are the scripts a name's letters are checked against, with the name the user is
// told. A letter in none of them counts as its own script ("other").
var scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Greek", unicode.Greek}, {"Cyrillic", unicode.Cyrillic},
	{"Armenian", unicode.Armenian}, {"Hebrew", unicode.Hebrew}, {"Arabic", unicode.Arabic},
	{"Devanagari", unicode.Devanagari}, {"Thai", unicode.Thai}, {"Georgian", unicode.Georgian},
	{"Han", unicode.Han}, {"Hiragana", unicode.Hiragana}, {"Katakana", unicode.Katakana},
	{"Hangul", unicode.Hangul}, {"Bopomofo", unicode.Bopomofo},
}

// mixes that TR39's highly restrictive level allows besides a single script.
var allowedMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScripts reports whether s has letters of scripts that no allowed mix holds together,
// and two of them.
func mixedScripts(s string) (a, b string, mixed bool) {
	var seen []string
	for _, r := range s {
		if unicode.In(r, unicode.Common, unicode.Inherited) {
			continue // digits, punctuation, combining marks go with any script
		}
		script := "other"
		for _, sc := range scripts {
			if unicode.Is(sc.table, r) {
				script = sc.name
				break
			}
		}
		if !slices.Contains(seen, script) {
			seen = append(seen, script)
		}
	}
	if len(seen) < 2 {
		return "", "", false
	}
	for _, mix := range allowedMixes {
		if allIn(seen, mix) {
			return "", "", false
		}
	}
	return seen[0], seen[1], true
}

func allIn(list, set []string) bool {
	for _, x := range list {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

// reservedNames cannot be taken by anyone: they would pass for the server or for staff. The
// command names are added by the hub. Names that begin with one of reservedPrefixes or end
// with one of reservedSuffixes are reserved too ("servers", "admin2", "ChanServ"). A name is
// compared with them in its reserved forms, not only by its skeletons.
var (
	reservedNames = []string{"root", "system", "hubbub", "lobby", "nobody", "everyone", "moderator", "staff", "help",
		"services", "sysop", "mod", "mods", "ops"}
	reservedPrefixes = []string{"server", "admin", "oper"}
	reservedSuffixes = []string{"serv"}
)

// reservedForms are the forms a name is checked in against reserved names: each skeleton with
// the digits and the symbols that stand for letters read as those letters (5erver, serv3r,
// adm1n, @dmin), and each skeleton with them left out (root2), both with everything that is
// not a letter removed (Server., server_, s-e-r-v-e-r) and i and l taken as one letter (the
// skeleton makes 1 an l). Reserved names are put in the same forms.
func (n Name) reservedForms() []string {
	forms := make([]string, 0, 2*len(n.looks))
	for _, look := range n.looks {
		for _, f := range []string{lettersOnly(skeleton(unleet(look))), lettersOnly(look)} {
			if f != "" && !slices.Contains(forms, f) {
				forms = append(forms, f)
			}
		}
	}
	return forms
}

// reservedForm is the form of a reserved name that reservedForms are compared with: its
// skeleton's letters, i as l. (Any name that looks like it has this among its forms.)
func reservedForm(n Name) string { return lettersOnly(n.looks[0]) }

// unleet reads digits and a few symbols as the letters they are written for.
func unleet(s string) string {
	return strings.Map(func(r rune) rune {
		if i := strings.IndexRune("0123456789$@!|", r); i >= 0 {
			return rune("oizeasbtbgsail"[i])
		}
		return r
	}, s)
}

// lettersOnly keeps the letters of s, with i as l.
func lettersOnly(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == 'i':
			return 'l'
		case unicode.IsLetter(r):
			return r
		}
		return -1
	}, s)
}

// hasReservedStem reports whether one of forms begins or ends with a reserved stem.
func hasReservedStem(forms []string) bool {
	for _, f := range forms {
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(f, lettersOnly(skeleton(p))) {
				return true
			}
		}
		for _, x := range reservedSuffixes {
			if strings.HasSuffix(f, lettersOnly(skeleton(x))) {
				return true
			}
		}
	}
	return false
}
