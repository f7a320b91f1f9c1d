package ircproto

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/safetext"
)

// message is one line a client sent: IRCv3 tags (kept as one string, unparsed: nothing a
// client tags is acted on), a prefix (ignored, as servers do for clients), a verb and its
// parameters, the last of which may hold spaces (the "trailing" one, after " :").
type message struct {
	tags    string
	command string // upper-cased
	params  []string
}

// maxParams bounds the parameters of one line (RFC 2812 says 15).
const maxParams = 15

// parse splits one line (without its line end) into a message. It never fails: an empty
// command means an empty line, which is ignored. Leading and repeated spaces are tolerated,
// as clients send them.
func parse(line string) message {
	var m message
	line = strings.TrimLeft(line, " ")
	if strings.HasPrefix(line, "@") {
		m.tags, line, _ = strings.Cut(line[1:], " ")
		line = strings.TrimLeft(line, " ")
	}
	if strings.HasPrefix(line, ":") {
		_, line, _ = strings.Cut(line, " ")
		line = strings.TrimLeft(line, " ")
	}
	cmd, rest, _ := strings.Cut(line, " ")
	m.command = strings.ToUpper(cmd)
	for rest != "" && len(m.params) < maxParams {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			break
		}
		if rest[0] == ':' || len(m.params) == maxParams-1 {
			m.params = append(m.params, strings.TrimPrefix(rest, ":"))
			break
		}
		var p string
		p, rest, _ = strings.Cut(rest, " ")
		m.params = append(m.params, p)
	}
	return m
}

// arg returns the i-th parameter, or "".
func (m message) arg(i int) string {
	if i >= 0 && i < len(m.params) {
		return m.params[i]
	}
	return ""
}

// maxParamLen bounds a middle parameter the server sends, in bytes: a name or a channel
// (32 characters) fits whole; what a client sent and is echoed back (a refused nick, a
// target list) is cut, so that an answer stays one line of IRC's length.
const maxParamLen = 200

// safeParam makes s safe as one middle parameter of a line the server sends: cleaned as
// safeTrailing cleans, with no space (which would end it) and no leading ':' (which would
// make it the trailing one), and at most maxParamLen bytes. Names and rooms pass unchanged:
// the chat's name rule allows none of these.
func safeParam(s string) string {
	s = safeTrailing(s)
	s = strings.ReplaceAll(s, " ", "_")
	if len(s) > maxParamLen {
		s = s[:utf8Start(s, maxParamLen)]
	}
	if s == "" {
		return "*"
	}
	if s[0] == ':' {
		s = "_" + s[1:]
	}
	return s
}

// safeTrailing makes s safe as the trailing parameter of a line the server sends, and is the
// one place where what the door says is cleaned: what users say comes cleaned by the chat
// (safetext), but the door also echoes what a client sent (a refused nick, an unknown
// channel or command). Every control character (CR and LF, which would end the line, NUL,
// ESC, the CTCP and formatting bytes, TAB, DEL, C1) becomes U+FFFD, so that the client sees
// that something was there, and the rest is cleaned as safetext cleans (invalid UTF-8 as
// U+FFFD, bidirectional overrides and invisible characters removed).
func safeTrailing(s string) string {
	if printableASCII(s) {
		return s
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return utf8.RuneError
			}
			return r
		}, s)
	}
	return safetext.CleanString(s)
}

// printableASCII reports whether s is printable ASCII only, as nearly every line is.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
