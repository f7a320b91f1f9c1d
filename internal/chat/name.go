package chat

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/secure/precis"
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
// only (so no spaces, controls, symbols or emoji); fullwidth forms mapped to their normal
// width; normalized to NFC. It is 1 to MaxNameLen characters and starts with a letter, a digit
// or '_', so it cannot be mistaken for a command (/), a notice (*) or a room (#). Its letters
// come from one script, or from Latin together with the scripts of Chinese, Japanese or Korean
// (the "highly restrictive" level of Unicode TR39), so that no name mixes, say, Cyrillic and
// Latin letters to look like another.
//
// Two names are the same name when they look alike on screen: when one of their confusable
// skeletons is equal. A skeleton is the TR39 skeleton of the name, taken from Unicode 13's
// confusables.txt as tabled by github.com/mtibben/confusables, then lower-cased. Each name has
// two, of its lower-case form and of the name as written, since case folding and look-alikes
// each hide what the other sees: "ALICE" is "alice" only once lower-cased, while "biII" (two
// capital i) looks like "bill" only as written. So "Alice", "ALICE", "ａｌｉｃｅ", "аlice" with a
// Cyrillic а, "rnike" and "mike", "b0b" and "bob" are each one name.
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
	case strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsFunc(s, isFormat):
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

func skeleton(s string) string { return strings.ToLower(confusables.Skeleton(s)) }

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
// command names are added by the hub.
var reservedNames = []string{"server", "admin", "administrator", "operator", "oper", "root",
	"system", "hubbub", "lobby", "nobody", "everyone", "moderator", "staff", "help"}
