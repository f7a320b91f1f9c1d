package lineproto

import "unicode/utf8"

// Decoder frames what a client sends into lines and the events of its protocol. A Server
// takes one per connection from its Framing; TelnetDecoder is the default, and another
// transport (IRC) brings its own to reuse the TCP engine. It is used by one read loop only.
type Decoder interface {
	// Decode consumes p until a line completes, a line becomes too long, an event needs the
	// connection, or p is used up; it returns how many bytes it consumed and what happened.
	Decode(p []byte) (int, Event)
	// Line returns the line after LineReady, until the next Decode; it may point into p.
	Line() []byte
	// Reply returns the bytes to send back after Reply.
	Reply() []byte
	// Release lets go of buffers that hold nothing, between reads, so that an idle
	// connection holds no memory.
	Release()
	// SetHiding says whether a password is being typed (chat.KindSecretPrompt was sent).
	SetHiding(on bool)
}

// Event is what Decoder.Decode found.
type Event uint8

const (
	// NeedMore means the input was used up without completing a line.
	NeedMore Event = iota
	// LineReady means a line is complete; Decoder.Line returns it.
	LineReady
	// LineTooLong means the line being typed passed the maximum; the rest of it, up to the next
	// line end, is discarded. It is reported once per line, when the limit is crossed.
	LineTooLong
	// Reply means the client asked something of the telnet protocol that must be answered;
	// Decoder.Reply returns the bytes to send back, in order with the answers to earlier lines.
	Reply
	// AreYouThere means the client sent telnet's AYT: it wants visible proof the server lives.
	AreYouThere
	// AbortOutput means the client sent telnet's AO: it wants the output waiting for it dropped.
	AbortOutput
	// EchoOn means the client agreed (DO ECHO) to the server's offer to echo, made while a
	// password is typed (see Decoder.SetHiding): it no longer shows what is typed.
	EchoOn
	// EchoOff means the client refused (DONT ECHO) that offer, or withdrew its agreement: what
	// is typed shows.
	EchoOff
)

// Telnet command bytes (RFC 854, RFC 855, RFC 1184).
const (
	iac   = 255
	dont  = 254
	do    = 253
	wont  = 252
	will  = 251
	sb    = 250
	el    = 248 // erase line
	ec    = 247 // erase character
	ayt   = 246 // are you there
	ao    = 245 // abort output
	ip    = 244 // interrupt process: telnet sends it for Ctrl-C
	brk   = 243 // break: telnet sends it for Ctrl-\
	se    = 240
	abort = 238 // abort process (LINEMODE)
	susp  = 237 // suspend process: telnet sends it for Ctrl-Z

	optTimingMark = 6 // RFC 860
	optEcho       = 1 // RFC 857
)

type decodeState uint8

const (
	stData  decodeState = iota
	stCR                // saw CR; it ends the line, with the LF or NUL that may follow it
	stIAC               // saw IAC in data
	stWill              // saw IAC WILL; the next byte is the option
	stDo                // saw IAC DO; the next byte is the option
	stNo                // saw IAC WONT; the next byte is the option
	stDont              // saw IAC DONT; the next byte is the option
	stSB                // inside subnegotiation, skipping until IAC SE
	stSBIAC             // saw IAC inside subnegotiation
)

// maxSubnegotiation bounds a telnet subnegotiation. Real ones (window size, terminal type,
// environment) are a few dozen bytes; without a bound, a stray IAC SB in pasted binary would
// swallow everything the client sends after it.
const maxSubnegotiation = 512

// special marks the bytes that end a run of plain line text.
var special = [256]bool{'\r': true, '\n': true, iac: true, 0x08: true, 0x7f: true}

// TelnetDecoder turns the bytes of a telnet or nc client into lines: the Decoder a Server
// uses unless it is given another (Framing). It accepts LF, CR LF,
// telnet's CR NUL and a lone CR as line ends, strips telnet commands and option negotiation, applies
// backspace (0x08), DEL (0x7f) and telnet's erase-character and erase-line, and never holds
// more than max bytes of a line however long the line is. The zero value is not usable; use
// NewTelnetDecoder.
//
// Telnet's other commands get the meaning a telnet user expects. Ctrl-C, Ctrl-\ and Ctrl-Z
// (IP, BRK, SUSP; ABORT too) abandon the line being typed and never end the session. telnet
// follows each with DO TIMING-MARK and shows nothing more until it is answered, so DO
// TIMING-MARK is answered WILL TIMING-MARK (RFC 860) every time. Any other option the client
// offers (WILL) or asks for (DO) is refused once with DONT or WONT, but ECHO while the server
// offers it (SetHiding); WONT and DONT need no answer, as every option is already off or, for
// ECHO, turned off by the server's own WONT ECHO once the password is read. AYT and AO are reported for the connection to act on.
type TelnetDecoder struct {
	max        int
	state      decodeState
	subneg     int    // bytes of the current subnegotiation
	discarding bool   // the current line passed max; drop it up to its end
	line       []byte // the line being assembled when it spans reads or is edited
	out        []byte // the last line returned
	reply      [3]byte
	// hiding is set by the connection (SetHiding) while the server has offered to echo (IAC WILL ECHO,
	// so that a password does not show): DO and DONT ECHO are then the client's answer,
	// reported as EchoOn and EchoOff and not answered again, where otherwise DO ECHO is
	// refused like any option.
	hiding bool
	// refused marks the options already refused, (WONT for DO, DONT for WILL): each is refused
	// once, so that a client repeating a request cannot make the server talk without end.
	// Allocated at the first request: nc and telnet on a port other than 23 never negotiate.
	refused *[2][256 / 8]byte
}

// NewTelnetDecoder returns a decoder for lines of at most max bytes.
func NewTelnetDecoder(max int) *TelnetDecoder {
	return &TelnetDecoder{max: max}
}

// Decode consumes p until a line completes, a line becomes too long, or p is used up. It
// returns how many bytes it consumed and what happened. After LineReady, Line returns the line
// until the next call to Decode; it may point into p.
func (d *TelnetDecoder) Decode(p []byte) (int, Event) {
	n := 0
	for n < len(p) {
		if d.state == stData {
			j := indexSpecial(p[n:])
			if j < 0 {
				return len(p), d.appendRun(p[n:])
			}
			run := p[n : n+j]
			if len(d.line) == 0 && !d.discarding && len(run) <= d.max {
				// The whole line is in p: hand it out without copying.
				end := n + j
				if p[end] == '\n' {
					d.out = run
					return end + 1, LineReady
				}
				if p[end] == '\r' && end+1 < len(p) && (p[end+1] == '\n' || p[end+1] == 0) {
					d.out = run
					return end + 2, LineReady
				}
			}
			n += j
			if ev := d.appendRun(run); ev != NeedMore {
				return n, ev
			}
		}
		c := p[n]
		n++
		switch d.state {
		case stData:
			switch c {
			case '\n':
				if ev := d.finish(); ev != NeedMore {
					return n, ev
				}
			case '\r':
				// CR ends the line at once, with the LF or NUL that may follow it, or alone (some
				// clients end lines with it): were a lone CR dropped, "hi" CR "/oper x" would be
				// one line, said to the room.
				d.state = stCR
				if ev := d.finish(); ev != NeedMore {
					return n, ev
				}
			case iac:
				d.state = stIAC
			case 0x08, 0x7f:
				d.erase()
			}
		case stCR:
			d.state = stData
			if c != '\n' && c != 0 {
				n-- // the CR ended the line alone: c starts the next
			}
		default:
			if ev := d.telnet(c); ev != NeedMore {
				return n, ev
			}
		}
	}
	return n, NeedMore
}

// telnet takes byte c of a telnet command. It is apart from Decode so that the plain path
// stays small.
func (d *TelnetDecoder) telnet(c byte) Event {
	switch d.state {
	case stIAC:
		d.state = stData
		switch c {
		case iac: // escaped 0xFF is data
			return d.appendRun([]byte{iac})
		case will:
			d.state = stWill
		case do:
			d.state = stDo
		case wont:
			d.state = stNo
		case dont:
			d.state = stDont
		case sb:
			d.state = stSB
			d.subneg = 0
		case ec:
			d.erase()
		case el, ip, brk, abort, susp:
			d.startOver()
		case ayt:
			return AreYouThere
		case ao:
			return AbortOutput
		}
	case stWill, stDo:
		asked := d.state
		d.state = stData
		if asked == stDo && c == optEcho && d.hiding {
			return EchoOn
		}
		if d.answer(asked, c) {
			return Reply
		}
	case stNo:
		d.state = stData
	case stDont:
		d.state = stData
		if c == optEcho && d.hiding {
			return EchoOff
		}
	case stSB:
		d.subneg++
		switch {
		case c == iac:
			d.state = stSBIAC
		case d.subneg > maxSubnegotiation:
			d.state = stData
		}
	case stSBIAC:
		if c == se {
			d.state = stData
		} else {
			d.state = stSB
		}
	}
	return NeedMore
}

// Line returns the line found by the last Decode that returned LineReady, without its line end.
func (d *TelnetDecoder) Line() []byte { return d.out }

// Reply returns the telnet answer found by the last Decode that returned Reply. It is valid
// until the next call to Decode.
func (d *TelnetDecoder) Reply() []byte { return d.reply[:] }

// answer sets the reply to IAC WILL or IAC DO (asked) of option, and reports whether there is
// one to send.
func (d *TelnetDecoder) answer(asked decodeState, option byte) bool {
	verb, side := byte(dont), 0 // the client offers to do option: we do not want it
	if asked == stDo {
		if option == optTimingMark {
			d.reply = [3]byte{iac, will, optTimingMark}
			return true
		}
		verb, side = wont, 1 // the client asks us to do option: we will not
	}
	if d.refused == nil {
		d.refused = new([2][256 / 8]byte)
	}
	bit := byte(1) << (option % 8)
	if d.refused[side][option/8]&bit != 0 {
		return false
	}
	d.refused[side][option/8] |= bit
	d.reply = [3]byte{iac, verb, option}
	return true
}

// startOver abandons the line being typed, even one that is too long: what follows is a new line.
func (d *TelnetDecoder) startOver() {
	d.line = d.line[:0]
	d.discarding = false
}

// SetHiding says whether the server has offered to echo while a password is typed (Decoder).
func (d *TelnetDecoder) SetHiding(on bool) { d.hiding = on }

// Pending returns how many bytes of an unfinished line the decoder holds.
func (d *TelnetDecoder) Pending() int { return len(d.line) }

// Release drops the line buffer when it holds nothing, so an idle connection keeps no memory.
func (d *TelnetDecoder) Release() {
	if len(d.line) == 0 {
		d.line = nil
	}
	d.out = nil
}

func indexSpecial(p []byte) int {
	for i, c := range p {
		if special[c] {
			return i
		}
	}
	return -1
}

// appendRun adds plain bytes to the line, switching to discarding when it would pass max.
func (d *TelnetDecoder) appendRun(run []byte) Event {
	if d.discarding || len(run) == 0 {
		return NeedMore
	}
	if len(d.line)+len(run) > d.max {
		d.discarding = true
		d.line = d.line[:0]
		return LineTooLong
	}
	d.line = append(d.line, run...)
	return NeedMore
}

// finish ends the current line: LineReady, or NeedMore when it was being discarded.
func (d *TelnetDecoder) finish() Event {
	if d.discarding {
		d.discarding = false
		d.line = d.line[:0]
		return NeedMore
	}
	d.out = d.line
	d.line = d.line[:0]
	return LineReady
}

// erase removes the last character (a whole UTF-8 sequence when it is one) from the line.
func (d *TelnetDecoder) erase() {
	if d.discarding || len(d.line) == 0 {
		return
	}
	_, size := utf8.DecodeLastRune(d.line)
	d.line = d.line[:len(d.line)-size]
}
