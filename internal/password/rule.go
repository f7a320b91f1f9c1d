package password

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The password rule, as users are told it.
const (
	MinChars = 8   // characters, not bytes: a passphrase in any script counts the same
	MaxBytes = 256 // bytes: argon2 reads all of it, and no one types more
	// Rule says the rule in words, for a prompt or a refusal.
	Rule = "a password has at least 8 characters, at most 256 bytes, and no control characters"
)

// Refusals of Check, for users to read; each says what to change.
var (
	ErrTooShort = errors.New("a password needs at least 8 characters")
	ErrTooLong  = errors.New("a password is at most 256 bytes: choose a shorter one")
	ErrNotUTF8  = errors.New("a password must be valid UTF-8 text")
	ErrControl  = errors.New("a password cannot contain control characters (tabs, escapes, line breaks)")
)

// Check applies the rule to a new password. It says what is wrong, never what was typed.
func Check(pw string) error {
	switch {
	case len(pw) > MaxBytes:
		return ErrTooLong
	case !utf8.ValidString(pw):
		return ErrNotUTF8
	case strings.ContainsFunc(pw, unicode.IsControl):
		return ErrControl
	case utf8.RuneCountInString(pw) < MinChars:
		return ErrTooShort
	}
	return nil
}
