// Package safetext makes untrusted text safe to show on another person's terminal.
//
// Everything a client sends may end up on someone else's screen, so anything a terminal would
// interpret instead of print is removed before it is shown:
//
//   - invalid UTF-8 becomes U+FFFD;
//   - C0 controls (U+0000–U+001F) and DEL are removed, except TAB, which becomes a space;
//     a lone CR is removed with them, because it lets one user overwrite what others see;
//   - ESC and the whole sequence it starts are removed: CSI (ESC [ ... final), OSC (ESC ] ... BEL
//     or ST), DCS/SOS/PM/APC strings (ESC P, X, ^, _ ... ST), nF sequences (ESC, intermediates,
//     final) and two-character escapes (ESC c resets a terminal);
//   - IRC's colour codes go whole, not only their control byte (which would leave "4,5red"):
//     mIRC's U+0003 with up to two digits, then a comma and up to two more, and the hex form
//     U+0004 with six hex digits, then a comma and six more; the other formatting bytes of IRC
//     (bold, italics, underline...) are C0 controls and go as such;
//   - C1 controls (U+0080–U+009F) are removed, and the ones that open a sequence (CSI U+009B, OSC
//     U+009D, DCS U+0090, SOS U+0098, PM U+009E, APC U+009F) take their sequence with them;
//   - bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder what
//     follows them on screen, and the line and paragraph separators U+2028/U+2029 are removed;
//   - invisible characters are removed (see Invisible): zero-width spaces, joiners and marks,
//     word joiners, invisible math operators, byte order marks, soft hyphens, Hangul fillers, tag
//     characters and the rest of Unicode's default-ignorable code points, with which a line can
//     hide text, split a word a filter looks for, or pass for an empty line. Three kinds carry
//     meaning and are kept where they do (see Clean): the zero-width joiner that glues emoji
//     into one (👩‍💻), the joiners between letters of scripts that use them (Persian, Hindi) and
//     one variation selector after a character (❤️, the emoji form of ❤);
//   - combining marks are capped at MaxMarks per character, so that a line of "Zalgo" text
//     cannot spill over the lines above and below it.
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const esc = 0x1b

// MaxMarks is how many combining marks (and variation selectors) one character keeps in a
// line. Real writing needs up to three or four: Vietnamese two (ễ), Hindi three (nukta, vowel
// sign, nasal sign), pointed and cantillated Hebrew four, a keycap emoji two (1️⃣). Beyond
// that marks only pile up above and below the line: "Zalgo" text.
const MaxMarks = 4

// Clean returns b as valid UTF-8 text with no terminal control and no invisible characters in
// it, and no character carrying more than MaxMarks combining marks (see the package comment).
//
// Joiners are kept only where they change what is shown: a zero-width joiner (U+200D) between
// two pictographs (an emoji ZWJ sequence such as 👩‍💻 or 🏳️‍🌈), and a zero-width joiner or
// non-joiner (U+200C) between two letters (or a letter and a mark) of one script that uses
// them to choose between joined and separate forms: the Arabic family (Persian writes ZWNJ
// inside words), Syriac, N'Ko, Mongolian, and the Brahmic scripts of South and Southeast Asia
// (a half form or an explicit virama in Hindi). A variation selector is kept directly after
// the character it selects a form of (not a space), once.
func Clean(b []byte) string {
	if printableASCII(b) {
		return string(b)
	}
	var c cleaner
	c.out.Grow(len(b))
	for i := 0; i < len(b); {
		if b[i] >= 0x20 && b[i] < 0x7f {
			// Most of a non-ASCII line is still ASCII: copy each run at once.
			j := i + 1
			for j < len(b) && b[j] >= 0x20 && b[j] < 0x7f {
				j++
			}
			c.ascii(b[i:j])
			i = j
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0xa0 && r <= 0xffff && !specialBMP.has(r) {
			// Most other characters are letters, digits and symbols with nothing to check.
			// (Invalid UTF-8 decodes to U+FFFD with size 1, and is written as U+FFFD.)
			c.base(r)
			i += size
			continue
		}
		switch {
		case r == utf8.RuneError && size <= 1:
			c.base(utf8.RuneError)
			i++
			continue
		case r == esc:
			i = skipEscape(b, i+1)
			continue
		case r == ircColour:
			i = skipColour(b, i+1)
			continue
		case r == ircHexColour:
			i = skipHexColour(b, i+1)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(b, i+size)
			continue
		case r == 0x9d, r == 0x90, r == 0x98, r == 0x9e, r == 0x9f: // OSC, DCS, SOS, PM, APC
			i = skipString(b, i+size)
			continue
		case r == '\t':
			c.base(' ')
		case isControl(r):
			// dropped
		default:
			c.rune(r)
		}
		i += size
	}
	return c.out.String()
}

// CleanString is Clean for a string.
func CleanString(s string) string {
	if printableASCII([]byte(s)) {
		return s
	}
	return Clean([]byte(s))
}

// cleaner writes what Clean keeps. Whether a joiner, a variation selector or a mark is kept
// depends on what was kept before it, not on what was typed before it, so that cleaning clean
// text changes nothing.
type cleaner struct {
	out       strings.Builder
	lastBase  rune // the last character kept that is not a mark, selector or joiner
	afterBase bool // nothing but a pending joiner was kept since lastBase
	marks     int  // marks and selectors kept on lastBase
	joiner    rune // a joiner after lastBase, written only if what comes next fits it
}

func (c *cleaner) ascii(run []byte) {
	c.joiner = 0 // no joiner goes before an ASCII character
	c.out.Write(run)
	c.lastBase, c.afterBase, c.marks = rune(run[len(run)-1]), true, 0
}

func (c *cleaner) base(r rune) {
	c.write(r)
	c.lastBase, c.afterBase, c.marks = r, true, 0
}

func (c *cleaner) rune(r rune) {
	switch {
	case r == zwnj || r == zwj:
		if joinsAfter(r, c.lastBase) {
			c.joiner = r // of joiners in a row, the last one counts
		}
	case isVariationSelector(r):
		// A space has no forms to choose from: a selector there only hides something.
		if c.afterBase && c.marks < MaxMarks && !unicode.IsSpace(c.lastBase) {
			c.write(r)
			c.afterBase = false
			c.marks++
		}
	case Invisible(r):
		// dropped
	case isMark(r):
		if c.marks < MaxMarks {
			c.write(r)
			c.afterBase = false
			c.marks++
		}
	default:
		c.base(r)
	}
}

// write writes r, after the pending joiner if r is what that joiner joins lastBase to.
func (c *cleaner) write(r rune) {
	if c.joiner != 0 {
		if joinsBefore(c.joiner, c.lastBase, r) {
			c.out.WriteRune(c.joiner)
		}
		c.joiner = 0
	}
	c.out.WriteRune(r)
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// isControl reports whether r is removed on its own (without a sequence around it).
func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// skipEscape returns the index just past the escape sequence whose ESC was at i-1.
func skipEscape(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch c := b[i]; {
	case c == '[':
		return skipCSI(b, i+1)
	case c == ']', c == 'P', c == 'X', c == '^', c == '_':
		return skipString(b, i+1)
	case c >= 0x20 && c <= 0x2f: // nF: intermediates, then one final byte
		for i < len(b) && b[i] >= 0x20 && b[i] <= 0x2f {
			i++
		}
		if i < len(b) && b[i] >= 0x30 && b[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e: // Fp, Fe, Fs: one byte after ESC
		return i + 1
	default:
		// ESC followed by a control or non-ASCII: drop the ESC, keep what follows.
		return i
	}
}

// IRC's colour codes (https://modern.ircdocs.horse/formatting): clients send them in what
// they say, and a telnet or web user would see what follows the control byte.
const (
	ircColour    = 0x03
	ircHexColour = 0x04
)

// skipColour returns the index just past an mIRC colour code whose U+0003 ended at i: a
// foreground of one or two digits, then, only after one, a comma and a background of one or
// two digits. A comma without a digit after it is text ("\x034,hi" is a red ",hi"), and so
// is a third digit.
func skipColour(b []byte, i int) int {
	n := digits(b, i, 2, isDigit)
	if n == 0 {
		return i // U+0003 alone resets the colours
	}
	i += n
	if i+1 < len(b) && b[i] == ',' && isDigit(b[i+1]) {
		i += 1 + digits(b, i+1, 2, isDigit)
	}
	return i
}

// skipHexColour is skipColour for U+0004: six hex digits, then a comma and six more.
func skipHexColour(b []byte, i int) int {
	if digits(b, i, 6, isHex) < 6 {
		return i
	}
	i += 6
	if i < len(b) && b[i] == ',' && digits(b, i+1, 6, isHex) == 6 {
		i += 7
	}
	return i
}

// digits returns how many bytes of b from i, at most max, are digits as is says.
func digits(b []byte, i, max int, is func(byte) bool) int {
	n := 0
	for n < max && i+n < len(b) && is(b[i+n]) {
		n++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// skipCSI returns the index just past a CSI sequence whose introducer ended at i: parameter
// bytes, intermediate bytes, then one final byte. A malformed sequence ends at the first byte
// that does not belong to it, which is then treated as text.
func skipCSI(b []byte, i int) int {
	for i < len(b) && b[i] >= 0x30 && b[i] <= 0x3f {
		i++
	}
	for i < len(b) && b[i] >= 0x20 && b[i] <= 0x2f {
		i++
	}
	if i < len(b) && b[i] >= 0x40 && b[i] <= 0x7e {
		i++
	}
	return i
}

// skipString returns the index just past a control string (OSC, DCS, SOS, PM, APC) whose
// introducer ended at i. It ends at BEL, ST (ESC \ or U+009C), or the end of the text: an
// unterminated string is never shown, since the terminal would swallow it too.
func skipString(b []byte, i int) int {
	for i < len(b) {
		switch {
		case b[i] == 0x07:
			return i + 1
		case b[i] == esc:
			if i+1 < len(b) && b[i+1] == '\\' {
				return i + 2
			}
			// A new ESC ends the string; the terminal starts a new sequence there.
			return i
		case b[i] == 0xc2 && i+1 < len(b) && b[i+1] == 0x9c:
			return i + 2
		}
		i++
	}
	return i
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
