package loadgen

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// eventView is an event's fields as bytes, most often slices of the message they were read
// from: valid until the next read.
type eventView struct {
	Kind, From, To, Text []byte
}

// scanEvent picks kind, from, to and text out of one JSON event, an object, without
// reflection and, unless a string holds escapes, without copying. It reports ok false for
// anything it does not follow (then encoding/json decides).
func scanEvent(b []byte) (e eventView, ok bool) {
	if e, ok := scanCompact(b); ok {
		return e, true
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return e, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return e, skipSpace(b, i+1) == len(b)
	}
	for i < len(b) {
		key, next, ok := scanString(b, i)
		if !ok {
			return e, false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return e, false
		}
		i = skipSpace(b, i+1)
		var field *[]byte
		switch string(key) {
		case "kind":
			field = &e.Kind
		case "from":
			field = &e.From
		case "to":
			field = &e.To
		case "text":
			field = &e.Text
		default:
			if mayFoldToField(key) {
				return e, false // encoding/json matches keys whatever their case
			}
		}
		if field != nil {
			*field, i, ok = scanString(b, i) // not a string: encoding/json says what
		} else {
			i, ok = skipValue(b, i)
		}
		if !ok {
			return e, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return e, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return e, skipSpace(b, i+1) == len(b)
		default:
			return e, false
		}
	}
	return e, false
}

// mayFoldToField reports whether encoding/json could take key for one of the fields scanned,
// which it matches whatever their case: an ASCII key that is one of them but for case, or any
// key past ASCII (Unicode folds K, the Kelvin sign, to k).
func mayFoldToField(key []byte) bool {
	switch len(key) {
	case 2:
		return foldEqual(key, "to")
	case 4:
		return foldEqual(key, "kind") || foldEqual(key, "from") || foldEqual(key, "text")
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// foldEqual reports whether key is lower, a word of lower-case ASCII letters, but for the case
// of its letters or for a letter past ASCII.
func foldEqual(key []byte, lower string) bool {
	for i, c := range key {
		if c >= utf8.RuneSelf {
			return true
		}
		if c != lower[i] && c+('a'-'A') != lower[i] {
			return false
		}
	}
	return true
}

// scanCompact is scanEvent for an event as the gateway writes a chat line's: an object of
// plain string values (no escape, nothing past ASCII), without spaces, read in one pass of
// plainEnd over its strings. It reports ok false for anything else, which scanEvent then reads
// in full. (Its general reading of a fan-out's event, a byte and a branch at a time, cost the
// bench more than the server's delivery.)
func scanCompact(b []byte) (e eventView, ok bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return e, false
	}
	if len(b) == 2 {
		return e, true
	}
	for i := 1; ; {
		// The keys the gateway writes, with the quote that opens their value, are eight bytes:
		// one comparison each. Any other key is read as the values are.
		var field *[]byte
		switch known := i+8 <= len(b); {
		case known && string(b[i:i+8]) == `"kind":"`:
			field, i = &e.Kind, i+7
		case known && string(b[i:i+8]) == `"room":"`:
			i += 7
		case known && string(b[i:i+8]) == `"from":"`:
			field, i = &e.From, i+7
		case known && string(b[i:i+8]) == `"text":"`:
			field, i = &e.Text, i+7
		default:
			if b[i] != '"' {
				return e, false
			}
			// A string whose plain bytes end at a quote ends there; one with an escape or a
			// byte past ASCII is left to scanEvent.
			k := plainEnd(b, i+1)
			if k >= len(b) || b[k] != '"' {
				return e, false
			}
			switch key := b[i+1 : k]; {
			case string(key) == "to":
				field = &e.To
			case mayFoldToField(key):
				return e, false // "kind" in another case, say
			}
			i = k + 1
			if i >= len(b) || b[i] != ':' {
				return e, false
			}
			i++
		}
		if b[i] != '"' {
			return e, false // not a string value: scanEvent reads it
		}
		v := plainEnd(b, i+1)
		if v >= len(b) || b[v] != '"' {
			return e, false
		}
		if field != nil {
			*field = b[i+1 : v : v]
		}
		i = v + 1
		switch {
		case i >= len(b):
			return e, false
		case b[i] == ',':
			i++
		case b[i] == '}':
			return e, i == len(b)-1
		default:
			return e, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainJSON marks the bytes a JSON string holds as themselves: printable ASCII but the quote
// and the backslash.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainEnd returns the index of the first byte from b[i] on that is not plainJSON, or len(b).
// It looks at eight bytes at a time: a chat line's event is a hundred bytes and more of plain
// strings, which a byte at a time made the scan the bench's largest cost per delivery.
func plainEnd(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		q, bs := w^(ones*'"'), w^(ones*'\\')
		// The high bit of each byte that is a quote or a backslash (a zero byte of q or bs),
		// below 0x20, or past ASCII. A borrow can mark a byte above one of those too, never
		// below: the lowest byte marked is the first one that is not plain.
		if m := ((q-ones)&^q | (bs-ones)&^bs | (w - ones*0x20) | w) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && plainJSON[b[i]] {
		i++
	}
	return i
}

// scanString decodes the JSON string at b[i], and returns it and the index after it.
func scanString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	i++
	start := i
	i = plainEnd(b, i)
	if i < len(b) && b[i] == '"' {
		return b[start:i:i], i + 1, true // the usual case: nothing to decode
	}
	// Escapes or characters past ASCII: as encoding/json would decode them.
	end := i
	for end < len(b) && b[end] != '"' {
		if b[end] < 0x20 {
			return nil, i, false
		}
		if b[end] == '\\' {
			// Only JSON's escapes: strconv knows more (\x, \a, octal...).
			if end+1 >= len(b) || !strings.ContainsRune(`"\bfnrtu`, rune(b[end+1])) {
				return nil, i, false
			}
			end++
		}
		end++
	}
	if end >= len(b) {
		return nil, i, false
	}
	s, err := strconv.Unquote(string(b[start-1 : end+1]))
	if err != nil || !utf8.ValidString(s) {
		return nil, i, false // JSON escapes strconv does not know (\/), or bytes to replace
	}
	return []byte(s), end + 1, true
}

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		_, next, ok := scanString(b, i)
		return next, ok
	case '{', '[':
		// Lists (rooms, members) are rare: matched here, checked as JSON.
		start, depth := i, 0
		for i < len(b) {
			switch b[i] {
			case '"':
				_, next, ok := scanString(b, i)
				if !ok {
					return i, false
				}
				i = next
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, json.Valid(b[start : i+1])
				}
			}
			i++
		}
		return i, false
	}
	// A number, true, false or null: short, and checked as JSON.
	start := i
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] >= 'a' && b[i] <= 'z' || b[i] == '.' || b[i] == '-' || b[i] == '+' || b[i] == 'E') {
		i++
	}
	return i, i > start && json.Valid(b[start:i])
}
