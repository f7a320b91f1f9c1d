package loadgen

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// scanEvent picks kind, from, to and text out of one JSON event, an object, without
// reflection. It reports ok false for anything it does not follow (then encoding/json decides).
func scanEvent(b []byte) (e wsEvent, ok bool) {
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
		var field *string
		switch key {
		case "kind":
			field = &e.Kind
		case "from":
			field = &e.From
		case "to":
			field = &e.To
		case "text":
			field = &e.Text
		default:
			if strings.EqualFold(key, "kind") || strings.EqualFold(key, "from") ||
				strings.EqualFold(key, "to") || strings.EqualFold(key, "text") {
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

// scanString decodes the JSON string at b[i], and returns it and the index after it.
func scanString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	i++
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 && b[i] < utf8.RuneSelf {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return string(b[start:i]), i + 1, true // the usual case: nothing to decode
	}
	// Escapes or characters past ASCII: as encoding/json would decode them.
	end := i
	for end < len(b) && b[end] != '"' {
		if b[end] < 0x20 {
			return "", i, false
		}
		if b[end] == '\\' {
			// Only JSON's escapes: strconv knows more (\x, \a, octal...).
			if end+1 >= len(b) || !strings.ContainsRune(`"\bfnrtu`, rune(b[end+1])) {
				return "", i, false
			}
			end++
		}
		end++
	}
	if end >= len(b) {
		return "", i, false
	}
	s, err := strconv.Unquote(string(b[start-1 : end+1]))
	if err != nil || !utf8.ValidString(s) {
		return "", i, false // JSON escapes strconv does not know (\/), or bytes to replace
	}
	return s, end + 1, true
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
