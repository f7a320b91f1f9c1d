package chat

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// MaxNameLen is the longest name, in characters (Unicode code points).
const MaxNameLen = 32

// NameError says why a name was refused, in words for the user.
type NameError struct{ Reason string }

func (e *NameError) Error() string { return "bad name: " + e.Reason }

func badName(format string, args ...any) error {
	return &NameError{Reason: fmt.Sprintf(format, args...)}
}

// Name is a valid user name: what others see, and the key it is compared by.
//
// The rule: a name is the PRECIS UsernameCasePreserved form (RFC 8265) of what the user typed,
// with surrounding spaces trimmed: valid UTF-8; letters, digits and printable ASCII punctuation
// only (so no spaces, controls, symbols or emoji); fullwidth forms mapped to their normal
// width; normalized to NFC. It is 1 to MaxNameLen characters and starts with a letter, a digit
// or '_', so it cannot be mistaken for a command (/), a notice (*) or a room (#).
//
// Two names are the same name when their keys are equal. The key is the PRECIS
// UsernameCaseMapped form, which is the above with case mapped to lower case, so "Alice",
// "ALICE" and "ａｌｉｃｅ" are all the name "alice".
type Name struct {
	Display string
	Key     string
}

// ParseName checks typed against the name rule. A refusal is a *NameError that says in a few
// words what is wrong, for the user to read.
func ParseName(typed string) (Name, error) {
	s := strings.Trim(typed, " \t")
	switch {
	case s == "":
		return Name{}, badName("a name needs at least one character")
	case !utf8.ValidString(s):
		return Name{}, badName("names must be valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsSpace):
		return Name{}, badName("names cannot contain spaces")
	case strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsFunc(s, isFormat):
		return Name{}, badName("names cannot contain control characters")
	}
	display, err := precis.UsernameCasePreserved.String(s)
	if err != nil {
		return Name{}, badName("names may use letters, digits and punctuation only")
	}
	key, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return Name{}, badName("names may use letters, digits and punctuation only")
	}
	if n := utf8.RuneCountInString(display); n > MaxNameLen {
		return Name{}, badName("names are at most %d characters", MaxNameLen)
	}
	if first, _ := utf8.DecodeRuneInString(display); !unicode.IsLetter(first) && !unicode.IsDigit(first) && first != '_' {
		return Name{}, badName("names must start with a letter, a digit or _")
	}
	return Name{Display: display, Key: key}, nil
}

// isFormat reports invisible format characters (Unicode category Cf: bidi controls, zero-width
// joiners), which would let two different names look the same.
func isFormat(r rune) bool { return unicode.Is(unicode.Cf, r) }
