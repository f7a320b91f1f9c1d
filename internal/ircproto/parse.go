package ircproto

import (
	"strings"
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

// safeParam makes s safe as one middle parameter of a line the server sends: no CR, LF, NUL
// or space (which would end it, or the line), and no leading ':' (which would make it the
// trailing one). Names and rooms pass unchanged: the chat's name rule allows none of these.
func safeParam(s string) string {
	s = safeTrailing(s)
	s = strings.ReplaceAll(s, " ", "_")
	if s == "" {
		return "*"
	}
	if s[0] == ':' {
		s = "_" + s[1:]
	}
	return s
}

// safeTrailing makes s safe as the trailing parameter of a line the server sends: CR, LF and
// NUL, which would end the line or cut it short in some clients, become spaces. The chat
// cleans what users say of every control character already (safetext); this is the last
// guard of the IRC line itself, whatever reaches it.
func safeTrailing(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		s = strings.NewReplacer("\r", " ", "\n", " ", "\x00", " ").Replace(s)
	}
	return s
}
