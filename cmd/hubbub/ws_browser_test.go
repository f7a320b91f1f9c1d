package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"hubbub/internal/chattest"
)

// wsEvent is the part of a WebSocket event these tests look at.
type wsEvent struct {
	Kind, Room, From, Text string
	History                bool
}

// wsClient is a WebSocket client of the whole program, as a page's script is.
type wsClient struct {
	t       *testing.T
	ws      *websocket.Conn
	pending []wsEvent
}

func dialWS(t *testing.T, httpAddr string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+httpAddr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20) // a browser takes messages of any size; the server batches up to 64 KiB
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "line", "text": text})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send %q: %v", text, err)
	}
}

// next returns the next event, failing the test if the connection ends first.
func (c *wsClient) next() wsEvent {
	c.t.Helper()
	if len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if b[0] == '[' {
			err = json.Unmarshal(b, &c.pending)
		} else {
			c.pending = make([]wsEvent, 1)
			err = json.Unmarshal(b, &c.pending[0])
		}
		if err != nil {
			c.t.Fatalf("bad message %.100q: %v", b, err)
		}
	}
	e := c.pending[0]
	c.pending = c.pending[1:]
	return e
}

// TestReplayFitsBrowsers has ten browsers join a lobby whose last 20 lines are long lines of
// markup characters, with the default queue: every one of them gets the replay, as many of the
// newest lines as fit one answer, and stays (what a user asked for is never a reason to drop
// them, and a < is one byte, not six).
func TestReplayFitsBrowsers(t *testing.T) {
	_, addrs := startMain(t, nil)
	talker := chattest.Join(t, addrs["chat"], "talker")
	listener := chattest.Join(t, addrs["chat"], "listener")
	talker.Expect("listener has joined the channel")
	long := strings.Repeat("<", 4000)
	for i := range 20 {
		talker.Send(fmt.Sprint(i, long))
		listener.Expect(fmt.Sprint("<talker> ", i, long)) // shown, so stored
	}
	var browsers []*wsClient
	for i := range 10 {
		b := dialWS(t, addrs["http"])
		browsers = append(browsers, b)
		if e := b.next(); e.Kind != "prompt" {
			t.Fatalf("got %+v, want the prompt", e)
		}
		b.send(fmt.Sprint("web", i))
	}
	for i, b := range browsers {
		var replayed []string
		for e := b.next(); !strings.HasPrefix(e.Text, "end of history"); e = b.next() {
			if e.Kind == "message" && e.History {
				replayed = append(replayed, e.Text)
			}
		}
		// 20 lines of 4 KB are more than one answer holds (chat.DefaultAnswerBytes): the
		// newest that fit, in order, end with the last line said.
		if len(replayed) < 10 {
			t.Fatalf("browser %d: %d lines replayed, want the newest that fit 64 KiB", i, len(replayed))
		}
		first := 20 - len(replayed)
		for j, text := range replayed {
			if want := fmt.Sprint(first+j, long); text != want {
				t.Fatalf("browser %d: replayed line %d is %.30q", i, j, text)
			}
		}
	}
	talker.Send("after")
	for i, b := range browsers {
		for e := b.next(); e.Text != "after"; e = b.next() {
			if e.Kind != "join" {
				t.Fatalf("browser %d: got %+v", i, e)
			}
		}
	}
}
