package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// A chat connection over IRC (hubbub's IRC door, or any IRC server) is a lineConn whose lines
// are IRC messages: it registers with NICK/USER instead of answering a prompt, joins with JOIN,
// and its senders say PRIVMSG CHANNEL :TEXT. Receivers find the fan-out payload after " :",
// so the scenarios' counting and timing are those of the line conversation.

// ircMark is where a fan-out payload starts in ":NICK!USER@HOST PRIVMSG #CHANNEL :m RUNID ...".
var ircMark = []byte(" :m ")

// connectIRC opens an IRC connection for user i.
func (d *dialer) connectIRC(ctx context.Context, i int) (*lineConn, error) {
	c, err := d.dialTo(ctx, d.target(i))
	if err != nil {
		return nil, err
	}
	return &lineConn{c: c, r: bufio.NewReaderSize(c, 16<<10), irc: true}, nil
}

// ircFields splits an IRC line into its command and parameters, dropping tags and prefix. A
// trailing parameter (after " :") is the last one, spaces and all.
func ircFields(line []byte) (cmd string, params []string) {
	if len(line) > 0 && line[0] == '@' {
		_, line, _ = bytes.Cut(line, []byte(" "))
	}
	if len(line) > 0 && line[0] == ':' {
		_, line, _ = bytes.Cut(line, []byte(" "))
	}
	for len(line) > 0 {
		if line[0] == ':' {
			params = append(params, string(line[1:]))
			break
		}
		var word []byte
		word, line, _ = bytes.Cut(line, []byte(" "))
		if len(word) == 0 {
			continue
		}
		if cmd == "" {
			cmd = string(word)
		} else {
			params = append(params, string(word))
		}
	}
	return cmd, params
}

// ircRefusal says whether cmd is a numeric reply that reports an error (400-599), or ERROR.
func ircRefusal(cmd string) bool {
	return cmd == "ERROR" || (len(cmd) == 3 && (cmd[0] == '4' || cmd[0] == '5'))
}

// readIRCLine reads the next line that is not a PING, answering PINGs as it goes (a client that
// does not is dropped by the server's ping timeout, which a long hold would reach).
func (lc *lineConn) readIRCLine() ([]byte, error) {
	for {
		line, err := lc.readRawLine()
		if err != nil {
			return nil, err
		}
		if token, ok := bytes.CutPrefix(line, []byte("PING ")); ok {
			pong := append([]byte("PONG "), token...)
			if err := lc.write(append(pong, '\r', '\n')); err != nil {
				return nil, fmt.Errorf("answer PING: %w", err)
			}
			continue
		}
		return line, nil
	}
}

// registerIRC connects user i as nick name and waits until the server says it is welcome (001)
// and the user is in #lobby with its names (366), as an IRC client shows a channel: hubbub
// joins every new user to #lobby (and takes a client's own JOIN of it for the autojoin it is);
// another server is asked to with JOIN #lobby after its MOTD. A refusal (432, 433, ERROR...)
// is returned as a *serverSaid error.
func registerIRC(ctx context.Context, d *dialer, i int, name string) (*lineConn, error) {
	lc, err := d.connectIRC(ctx, i)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	lc.nick = name
	if dl, ok := ctx.Deadline(); ok {
		lc.c.SetReadDeadline(dl)
	}
	lc.c.SetWriteDeadline(time.Now().Add(d.timeout))
	if err := lc.write([]byte("NICK " + name + "\r\nUSER " + name + " 0 * :hubbub bench\r\n")); err != nil {
		lc.close()
		return nil, fmt.Errorf("register: %w", err)
	}
	welcomed := false
	for {
		line, err := lc.readLine()
		if err != nil {
			lc.close()
			return nil, fmt.Errorf("register: %w", err)
		}
		cmd, params := ircFields(line)
		switch {
		case cmd == "001":
			welcomed = true
		case ircRefusal(cmd) && !welcomed:
			lc.close()
			return nil, &serverSaid{line: string(line)}
		case cmd == "376" || cmd == "422": // the end of the MOTD
			if err := lc.write([]byte("JOIN #lobby\r\n")); err != nil {
				lc.close()
				return nil, fmt.Errorf("register: %w", err)
			}
		case cmd == "366" && len(params) > 1 && strings.EqualFold(params[1], "#lobby"):
			lc.channel = "#lobby"
			return lc, nil
		}
	}
}

// ircChannel returns room as an IRC channel name.
func ircChannel(room string) string {
	if strings.HasPrefix(room, "#") {
		return room
	}
	return "#" + room
}

// joinIRC joins channel room and reads until its names have come (366), or a refusal for it.
// A channel the user is in already is not asked for: hubbub answers such a JOIN with nothing.
func joinIRC(lc *lineConn, room string, deadline time.Time) error {
	ch := ircChannel(room)
	if strings.EqualFold(ch, lc.channel) {
		return nil
	}
	lc.c.SetDeadline(deadline)
	if err := lc.write([]byte("JOIN " + ch + "\r\n")); err != nil {
		return fmt.Errorf("JOIN %s: %w", ch, err)
	}
	for {
		line, err := lc.readLine()
		if err != nil {
			return fmt.Errorf("JOIN %s: %w", ch, err)
		}
		cmd, params := ircFields(line)
		switch {
		case cmd == "366" && len(params) > 1 && strings.EqualFold(params[1], ch):
			lc.channel = ch
			return nil
		case ircRefusal(cmd):
			return &serverSaid{line: string(line)}
		}
	}
}

// partIRC leaves channel ch and reads until the server confirms it, or refuses.
func partIRC(lc *lineConn, ch string, deadline time.Time) error {
	lc.c.SetDeadline(deadline)
	if err := lc.write([]byte("PART " + ch + "\r\n")); err != nil {
		return fmt.Errorf("PART %s: %w", ch, err)
	}
	for {
		line, err := lc.readLine()
		if err != nil {
			return fmt.Errorf("PART %s: %w", ch, err)
		}
		cmd, params := ircFields(line)
		switch {
		case cmd == "PART" && len(params) > 0 && strings.EqualFold(params[0], ch) && bytes.HasPrefix(line, []byte(":"+lc.nick+"!")):
			return nil
		case ircRefusal(cmd):
			return &serverSaid{line: string(line)}
		}
	}
}
