package ircproto

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
)

// serverName is the prefix of what the server says of its own, and every user's host: no
// user's address is ever shown to others.
const serverName = "hubbub"

// maxLine is IRC's line length without tags, CR LF included (RFC 1459). A message that does
// not fit is split into several lines, at a space where one is near the end, never cut.
const maxLine = 512

// ircNick is how a hubbub name is shown to IRC clients. A name may hold any printable ASCII
// punctuation, and four such characters break IRC: '!' and '@' end the nick in a prefix
// (so "bob!x" would show as bob), ',' separates targets, and ':' starts a prefix or a
// trailing parameter, which clients that split on it take wrong. Each becomes a character
// that no hubbub name can hold (names take ASCII punctuation only, and fold fullwidth
// forms), so the mapping is one to one and hubbubName undoes it.
func ircNick(name string) string {
	if !strings.ContainsAny(name, "!@,:") {
		return name
	}
	return nickOut.Replace(name)
}

// hubbubName is the hubbub name an IRC client means by nick.
func hubbubName(nick string) string {
	if !strings.ContainsAny(nick, "¡＠‚：") {
		return nick
	}
	return nickIn.Replace(nick)
}

var (
	nickOut = strings.NewReplacer("!", "¡", "@", "＠", ",", "‚", ":", "：")
	nickIn  = strings.NewReplacer("¡", "!", "＠", "@", "‚", ",", "：", ":")
	chanOut = strings.NewReplacer("!", "¡", "@", "＠", ",", "‚")
)

// mask is the full prefix of a user: nick!u@hubbub.
// The name is made safe as a parameter too: the chat's names hold no space or control, and
// this keeps a line whole whatever reaches it.
func mask(name string) string { return safeParam(ircNick(name)) + "!u@" + serverName }

// encoder renders chat messages as IRC lines. There are two, one per wire format: with the
// server-time tag and without, so that each message is encoded at most twice however many
// IRC clients get it.
type encoder struct{ serverTime bool }

var (
	plainEnc = chat.NewFormat(&encoder{})
	timeEnc  = chat.NewFormat(&encoder{serverTime: true})
)

// Encode implements chat.Encoder. Kinds that depend on who gets them (the welcome, a list,
// the current room) are rendered by the client, and are nil here.
func (e *encoder) Encode(m *chat.Message) []byte {
	var tags string
	if e.serverTime {
		tags = timeTag(m)
	}
	return appendMessage(nil, m, tags)
}

// timeTag is the server-time tag of m: when it was kept, or now.
func timeTag(m *chat.Message) string {
	t := m.Time
	if t.IsZero() {
		t = time.Now()
	}
	return "time=" + t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// appendMessage appends m's lines, each with tags (without '@'; "" for none).
func appendMessage(b []byte, m *chat.Message, tags string) []byte {
	switch m.Kind {
	case chat.KindChat:
		return appendText(b, tags, mask(m.From), said(m), ircChannel(m.Room), "", m.Text)
	case chat.KindAction:
		return appendText(b, tags, mask(m.From), "PRIVMSG", ircChannel(m.Room), "\x01ACTION ", m.Text)
	case chat.KindPrivate:
		return appendText(b, tags, mask(m.From), said(m), safeParam(ircNick(m.To)), "", m.Text)
	case chat.KindJoin:
		return appendLine(b, tags, mask(m.From), "JOIN", ircChannel(m.Room))
	case chat.KindLeave:
		return appendLine(b, tags, mask(m.From), "PART", partParams(m.Room, m.Text)...)
	case chat.KindQuit:
		return appendLine(b, tags, mask(m.From), "QUIT", ":"+cut(quitReason(m.Text)))
	case chat.KindKick:
		return appendLine(b, tags, mask(m.To), "KICK", ircChannel(m.Room), safeParam(ircNick(m.From)), ":"+cut(m.Text))
	case chat.KindNick:
		return appendLine(b, tags, mask(m.From), "NICK", ":"+safeTrailing(ircNick(m.Text)))
	case chat.KindOwner:
		// The owner is the channel's operator (PREFIX=(o)@): its nick list shows the @ now.
		return appendLine(b, tags, serverName, "MODE", ircChannel(m.Room), "+o", safeParam(ircNick(m.From)))
	case chat.KindTopic:
		return appendLine(b, tags, mask(m.From), "TOPIC", ircChannel(m.Room), ":"+cut(m.Text))
	case chat.KindAway:
		if m.Text == "" {
			return appendLine(b, tags, mask(m.From), "AWAY")
		}
		return appendLine(b, tags, mask(m.From), "AWAY", ":"+cut(m.Text))
	case chat.KindNotice:
		// What lineproto's engine says of its own before a client is registered, or when it
		// closes the connection: the client renders every other notice (Deliver, noticeEnc).
		if m == connpolicy.NoticeShutdown || m == connpolicy.NoticeRegisterTimeout || m == connpolicy.NoticePingTimeout {
			return append(append(append(b, "ERROR :Closing link: "...), cut(m.Text)...), '\r', '\n')
		}
		return appendText(b, tags, serverName, "NOTICE", "*", "", m.Text)
	}
	return b
}

// quitReason is what IRC clients are told of a quit: the chat's reason, or, when it gives
// none (a telnet or web user whose connection ended, a bare /quit, which the line door shows
// alike), what the IRC door says of its own clients that just went: an empty QUIT reads as
// "has quit []" in irssi.
func quitReason(text string) string {
	if text == "" {
		return "connection closed"
	}
	return text
}

// said is the command m was said with: NOTICE, which no program answers automatically, when
// it was one (an IRC client's NOTICE), else PRIVMSG.
func said(m *chat.Message) string {
	if m.Notice {
		return "NOTICE"
	}
	return "PRIVMSG"
}

// partParams are a PART's parameters: the channel, and the reason when there is one.
func partParams(room, reason string) []string {
	if reason == "" {
		return []string{ircChannel(room)}
	}
	return []string{ircChannel(room), ":" + cut(reason)}
}

// ircChannel is a room's name as a channel: a ',' (which a room's name may hold, and which
// separates channels in IRC), '!' and '@' shown as ircNick shows them, made safe as a
// parameter. A ':' is kept: inside a channel's name it means nothing to IRC, and a client
// that joined #a:b is told it is in #a:b.
func ircChannel(room string) string {
	if !strings.ContainsAny(room, "!@,") {
		return safeParam(room)
	}
	return safeParam(chanOut.Replace(room))
}

// nickRule is why nickAllowed refuses a nick.
const nickRule = "IRC nicks cannot hold ! @ , : * ? or spaces: choose another"

// nickAllowed reports whether an IRC client may ask for nick: not with the characters that
// IRC gives a meaning (a prefix's '!' and '@', the ',' of target lists, the ':' of prefixes
// and trailing parameters, the '*' and '?' of masks), which a hubbub name may hold but an IRC
// client would show or parse wrong. Names of telnet and web users that hold them are shown
// mapped (ircNick).
func nickAllowed(nick string) bool { return !strings.ContainsAny(nick, "!@,:*? ") }

// cut makes text safe as a trailing parameter and short enough for one line: what the chat
// lets through (a topic of 300 characters, a reason of 200) fits; this only guards the line.
func cut(text string) string {
	text = safeTrailing(text)
	if len(text) > 400 {
		text = text[:clusterStart(text, 400)]
	}
	return text
}

// appendLine appends one line: tags, prefix, command, params (the last may start with ':').
// A trailing last parameter is cut to keep the line within maxLine: what the chat lets
// through (a topic of 300 characters, a reason of 200) is cut to 400 bytes by cut, which
// with a long prefix and channel of multibyte characters could still pass it.
func appendLine(b []byte, tags, prefix, command string, params ...string) []byte {
	if tags != "" {
		b = append(append(append(b, '@'), tags...), ' ')
	}
	start := len(b)
	b = append(append(append(append(b, ':'), prefix...), ' '), command...)
	for i, p := range params {
		if i == len(params)-1 && strings.HasPrefix(p, ":") {
			if room := maxLine - len("\r\n") - (len(b) - start) - 1; len(p) > room {
				p = p[:utf8Start(p, max(room, 1))]
			}
		}
		b = append(append(b, ' '), p...)
	}
	return append(b, '\r', '\n')
}

// appendText appends text said by prefix to target, as many lines as it takes: each fits in
// maxLine with its prefix, split at the last space before the end when there is one in the
// last quarter, else at a character boundary. ctcp, when set ("\x01ACTION "), wraps each part.
func appendText(b []byte, tags, prefix, command, target, ctcp, text string) []byte {
	text = safeTrailing(text)
	head := len(prefix) + len(command) + len(target) + 7 // ':', ' ', ' ', " :", CR LF
	room := maxLine - head
	if ctcp != "" {
		room -= len(ctcp) + 1
	}
	room = max(room, 64)
	for first := true; first || text != ""; first = false {
		part := text
		if len(part) > room {
			n := utf8Start(text, room)
			if sp := strings.LastIndexByte(text[:n], ' '); sp > n*3/4 {
				n = sp + 1
			}
			part = text[:clusterStart(text, n)]
		}
		text = text[len(part):]
		line := ":" + part
		if ctcp != "" {
			line = ":" + ctcp + part + "\x01"
		}
		b = appendLine(b, tags, prefix, command, target, line)
	}
	return b
}

// clusterStart returns the largest i <= n, a character's start in s, where a line may be cut
// without splitting what shows as one character: not before a combining mark, a variation
// selector, a skin tone or a zero-width joiner (the next line would start with it, orphaned),
// not after a joiner, and not inside a pair of regional indicators (a flag: half of one would
// pair the rest of the run wrongly). A cluster longer than n (a chain of emoji joined
// without end) is cut at n all the same.
func clusterStart(s string, n int) int {
	n = utf8Start(s, n)
	if n >= len(s) {
		return n
	}
	for i := n; i > 0; {
		r, _ := utf8.DecodeRuneInString(s[i:])
		prev, size := utf8.DecodeLastRuneInString(s[:i])
		switch {
		case extends(r), prev == zwj:
		case regionalIndicator(r) && regionalIndicator(prev) && indicatorsBefore(s[:i])%2 == 1:
		default:
			return i
		}
		i -= size
	}
	return n
}

const zwj = '\u200d'

// extends reports whether r belongs to the character before it.
func extends(r rune) bool {
	return r == zwj || unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Variation_Selector) ||
		r >= 0x1f3fb && r <= 0x1f3ff // emoji skin tones
}

func regionalIndicator(r rune) bool { return r >= 0x1f1e6 && r <= 0x1f1ff }

// indicatorsBefore counts the regional indicators that end s: pairs from the run's start are
// flags.
func indicatorsBefore(s string) int {
	k := 0
	for {
		r, size := utf8.DecodeLastRuneInString(s)
		if !regionalIndicator(r) {
			return k
		}
		k++
		s = s[:len(s)-size]
	}
}

// utf8Start returns the largest i <= n at which a character of s starts.
func utf8Start(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}
