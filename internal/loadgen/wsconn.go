package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"

	"github.com/coder/websocket"
)

// A chat connection over WebSocket (hubbub's /ws, docs/protocol.md) looks to the scenarios like
// a line connection: each event is turned into the line a telnet user would have seen, and each
// line sent becomes one {"type":"line"} message. So registration and fan-out run unchanged.

// dialWS connects to the WebSocket endpoint at target, from the same spread of source
// addresses as a TCP connection.
func (d *dialer) dialWS(ctx context.Context, target string) (*lineConn, error) {
	var raw *net.TCPConn
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.dialTo(ctx, target)
			raw = c
			return c, err
		},
	}}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+target+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	return &lineConn{c: raw, ws: ws}, nil
}

type wsEvent struct {
	Kind, From, To, Text string
}

// readWSLine reads the next event and returns it as a line. A message may hold one event or
// an array of them.
func (lc *lineConn) readWSLine() ([]byte, error) {
	if len(lc.wsPending) == 0 {
		// No deadline of its own: the scenarios set deadlines on the TCP connection underneath.
		_, data, err := lc.ws.Read(context.Background())
		if err != nil {
			return nil, err
		}
		if len(data) > 0 && data[0] == '[' {
			if err := json.Unmarshal(data, &lc.wsPending); err != nil {
				return nil, fmt.Errorf("not JSON events: %w", err)
			}
		} else {
			var e wsEvent
			if err := json.Unmarshal(data, &e); err != nil {
				return nil, fmt.Errorf("not a JSON event: %w", err)
			}
			lc.wsPending = append(lc.wsPending, e)
		}
	}
	e := lc.wsPending[0]
	lc.wsPending = lc.wsPending[1:]
	b := lc.wsLine[:0]
	switch e.Kind {
	case "prompt":
		b = append(b, "What's your name?"...)
	case "name_taken":
		b = append(b, "name taken, please choose other"...)
	case "welcome":
		b = append(append(b, "Welcome, "...), e.From...)
	case "message":
		b = append(append(append(append(b, '<'), e.From...), "> "...), e.Text...)
	case "notice":
		b = append(append(b, "*** "...), e.Text...)
	default:
		b = append(append(b, e.Kind...), ' ')
	}
	lc.wsLine = b
	return b, nil
}

// writeWS sends each line of p as a message.
func (lc *lineConn) writeWS(p []byte) error {
	for len(p) > 0 {
		line, rest, _ := bytes.Cut(p, []byte("\n"))
		p = rest
		msg, err := json.Marshal(map[string]string{"type": "line", "text": string(bytes.TrimSuffix(line, []byte("\r")))})
		if err != nil {
			return err
		}
		if err := lc.ws.Write(context.Background(), websocket.MessageText, msg); err != nil {
			return err
		}
	}
	return nil
}
