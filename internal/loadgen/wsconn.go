package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hubbub/internal/wsframe"
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"
)

// A chat connection over WebSocket (hubbub's /ws, docs/protocol.md) looks to the scenarios like
// a line connection: each event is turned into the line a telnet user would have seen, and each
// line sent becomes one {"type":"line"} message. So registration and fan-out run unchanged.
//
// The client reads frames itself from a buffered reader and picks the few fields it needs out
// of each event without reflection (wsevent.go): the load generator shares the machine with
// the server it measures, and decoding a million events a second with encoding/json and a
// message allocation each would measure the client more than the server.

// wsClient is the WebSocket of a load generator's connection.
type wsClient struct {
	nc     net.Conn
	br     *bufio.Reader
	msg    []byte // the payload of the last message read; reused
	unread int    // bytes of br that the last message read in place still holds

	wmu    sync.Mutex // writes: the scenario's and the pongs of the reader
	wbuf   []byte     // frames being written; guarded by wmu
	msgOut []byte     // a message being framed; guarded by wmu
}

// dialWS connects to the WebSocket endpoint at target, from the same spread of source
// addresses as a TCP connection.
func (d *dialer) dialWS(ctx context.Context, target string) (*lineConn, error) {
	var raw *net.TCPConn
	dl := ws.Dialer{
		NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.dialTo(ctx, target)
			if err != nil {
				return nil, err // not a nil *net.TCPConn in a net.Conn, which the caller would close
			}
			raw = c
			return c, nil
		},
		Timeout: d.timeout,
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nc, br, _, err := dl.Dial(ctx, "ws://"+target+"/ws")
	if err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 16<<10)
	}
	return &lineConn{c: raw, ws: &wsClient{nc: nc, br: br}}, nil
}

// CloseNow closes the connection without a close handshake.
func (w *wsClient) CloseNow() error { return w.nc.Close() }

// maxWSMessage bounds a message the client reads: the server batches events into messages of
// up to 64 KiB.
const maxWSMessage = 1 << 20

// readMessage returns the next data message's payload, valid until the next read or release,
// answering pings on the way.
func (w *wsClient) readMessage() ([]byte, error) {
	w.release()
	w.msg = w.msg[:0]
	if b, ok, err := w.readInPlace(); ok || err != nil {
		return b, err
	}
	for {
		h, err := w.readHeader()
		if err != nil {
			return nil, err
		}
		if h.Length > maxWSMessage || int64(len(w.msg))+h.Length > maxWSMessage {
			return nil, fmt.Errorf("a message of more than %d bytes", maxWSMessage)
		}
		start := len(w.msg)
		w.msg = append(w.msg, make([]byte, h.Length)...)
		if _, err := io.ReadFull(w.br, w.msg[start:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(w.msg[start:], h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := w.writeFrame(ws.OpPong, w.msg[start:]); err != nil {
				return nil, err
			}
			w.msg = w.msg[:start]
			continue
		case ws.OpPong:
			w.msg = w.msg[:start]
			continue
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(w.msg[start:])
			return nil, fmt.Errorf("closed by the server: %d %q: %w", code, reason, io.EOF)
		}
		if h.Fin {
			return w.msg, nil
		}
	}
}

// readInPlace returns the next message, if it is what a server sends in a fan-out (one
// unmasked data frame that the reader's buffer can hold), as the bytes of the buffer, without
// copying it: the caller's release, or the next read, consumes them. It reports ok false,
// having consumed nothing, for anything else.
func (w *wsClient) readInPlace() ([]byte, bool, error) {
	b, err := w.br.Peek(2)
	if err != nil {
		return nil, false, err
	}
	h, n, ok := wsframe.ParseHeader(b)
	if !ok || !h.Fin || h.Masked || h.OpCode.IsControl() || h.Length < 0 || h.Length > int64(w.br.Size()-n) {
		return nil, false, nil
	}
	if b, err = w.br.Peek(n + int(h.Length)); err != nil {
		return nil, false, err
	}
	w.unread = len(b)
	return b[n:], true, nil
}

// release consumes the message read in place, once the caller is done with it.
func (w *wsClient) release() {
	if w.unread > 0 {
		w.br.Discard(w.unread)
		w.unread = 0
	}
}

// readHeader reads a frame's header in place from the buffered reader (ws.ReadHeader
// allocates its buffer per frame, a cost the bench would pay a million times a second).
func (w *wsClient) readHeader() (ws.Header, error) {
	b, err := w.br.Peek(2)
	if err != nil {
		return ws.Header{}, err
	}
	h, n, ok := wsframe.ParseHeader(b)
	if !ok { // a longer length, or a mask, follows the first two bytes
		if b, err = w.br.Peek(n); err != nil {
			return ws.Header{}, err
		}
		h, n, _ = wsframe.ParseHeader(b)
	}
	if h.Length < 0 {
		return h, fmt.Errorf("a frame length with its top bit set")
	}
	_, err = w.br.Discard(n)
	return h, err
}

// writeFrame writes one masked frame.
func (w *wsClient) writeFrame(op ws.OpCode, p []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.wbuf = appendClientFrame(w.wbuf[:0], op, p)
	_, err := w.nc.Write(w.wbuf)
	return err
}

// appendClientFrame appends a frame of op holding p, masked as a client's must be.
func appendClientFrame(b []byte, op ws.OpCode, p []byte) []byte {
	b = append(b, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	mask := ws.NewMask()
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	ws.Cipher(b[start:], mask, 0)
	return b
}

type wsEvent struct {
	Kind, From, To, Text string
}

// readWSLine reads the next event and returns it as a line. A message may hold one event or
// an array of them.
func (lc *lineConn) readWSLine() ([]byte, error) {
	for len(lc.wsPending) == 0 {
		// No deadline of its own: the scenarios set deadlines on the TCP connection underneath.
		data, err := lc.ws.readMessage()
		if err != nil {
			return nil, err
		}
		if len(data) == 0 || data[0] != '[' {
			if v, ok := scanEvent(data); ok {
				lc.wsLine = appendEventLine(lc.wsLine[:0], v.Kind, v.From, v.Text)
				lc.ws.release() // so that buffered says what is left
				return lc.wsLine, nil
			}
			var e wsEvent
			err := json.Unmarshal(data, &e)
			lc.ws.release()
			if err != nil {
				return nil, fmt.Errorf("not a JSON event: %w", err)
			}
			lc.wsPending = append(lc.wsPending[:0], e)
			break
		}
		err = json.Unmarshal(data, &lc.wsPending)
		lc.ws.release()
		if err != nil {
			return nil, fmt.Errorf("not JSON events: %w", err)
		}
	}
	e := lc.wsPending[0]
	lc.wsPending = lc.wsPending[1:]
	lc.wsLine = appendEventLine(lc.wsLine[:0], []byte(e.Kind), []byte(e.From), []byte(e.Text))
	return lc.wsLine, nil
}

// appendEventLine appends the line a telnet user would have seen for an event.
func appendEventLine(b, kind, from, text []byte) []byte {
	switch string(kind) {
	case "prompt":
		return append(b, "What's your name?"...)
	case "name_taken":
		return append(b, "name taken, please choose other"...)
	case "welcome":
		return append(append(b, "Welcome, "...), from...)
	case "message":
		return append(append(append(append(b, '<'), from...), "> "...), text...)
	case "notice":
		return append(append(b, "*** "...), text...)
	}
	return append(append(b, kind...), ' ')
}

// writeWS sends each line of p as a message, all of them with one write, as a line
// connection sends its lines.
func (lc *lineConn) writeWS(p []byte) error {
	w := lc.ws
	w.wmu.Lock()
	defer w.wmu.Unlock()
	b := w.wbuf[:0]
	for len(p) > 0 {
		line, rest, _ := bytes.Cut(p, []byte("\n"))
		p = rest
		msg := append(w.msgOut[:0], `{"type":"line","text":`...)
		msg = appendJSONString(msg, bytes.TrimSuffix(line, []byte("\r")))
		msg = append(msg, '}')
		w.msgOut = msg
		b = appendClientFrame(b, ws.OpText, msg)
	}
	w.wbuf = b
	_, err := w.nc.Write(b)
	return err
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b, s []byte) []byte {
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(string(s))
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}
