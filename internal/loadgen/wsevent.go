package loadgen

import (
	"bytes"
	"encoding/json"
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
			if bytes.EqualFold(key, []byte("kind")) || bytes.EqualFold(key, []byte("from")) ||
				bytes.EqualFold(key, []byte("to")) || bytes.EqualFold(key, []byte("text")) {
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

// scanString decodes the JSON string at b[i], and returns it and the index after it.
func scanString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	i++
	start := i
	for i < len(b) && plainJSON[b[i]] {
		i++
	}
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
