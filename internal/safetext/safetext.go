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
//   - C1 controls (U+0080–U+009F) are removed, and the ones that open a sequence (CSI U+009B, OSC
//     U+009D, DCS U+0090, SOS U+0098, PM U+009E, APC U+009F) take their sequence with them;
//   - bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder what
//     follows them on screen, and the line and paragraph separators U+2028/U+2029 are removed.
package safetext

import (
	"strings"
	"unicode/utf8"
)

const esc = 0x1b

// Clean returns b as valid UTF-8 text with no terminal control in it (see the package comment).
func Clean(b []byte) string {
	if printableASCII(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out.WriteRune(utf8.RuneError)
			i++
			continue
		case r == esc:
			i = skipEscape(b, i+1)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(b, i+size)
			continue
		case r == 0x9d, r == 0x90, r == 0x98, r == 0x9e, r == 0x9f: // OSC, DCS, SOS, PM, APC
			i = skipString(b, i+size)
			continue
		case r == '\t':
			out.WriteByte(' ')
		case isControl(r):
			// dropped
		default:
			out.WriteRune(r)
		}
		i += size
	}
	return out.String()
}

// CleanString is Clean for a string.
func CleanString(s string) string {
	if printableASCII([]byte(s)) {
		return s
	}
	return Clean([]byte(s))
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
