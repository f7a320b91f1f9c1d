package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"hubbub/internal/chattest"
)

// webUser is a browser's side of /ws, without the page.
type webUser struct {
	t       *testing.T
	ctx     context.Context
	ws      *websocket.Conn
	pending []json.RawMessage
}

// joinWeb opens /ws on addr and registers name.
func joinWeb(t *testing.T, addr, name string) *webUser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	u := &webUser{t: t, ctx: ctx, ws: ws}
	u.expect(`"kind":"prompt"`)
	u.send(name)
	u.expect(`"kind":"welcome"`, `"from":"`+name+`"`)
	return u
}

func (u *webUser) send(line string) {
	u.t.Helper()
	msg, _ := json.Marshal(map[string]string{"type": "line", "text": line})
	if err := u.ws.Write(u.ctx, websocket.MessageText, msg); err != nil {
		u.t.Fatal(err)
	}
}

// expect reads events until one holds every part, and fails the test if none comes in time.
func (u *webUser) expect(parts ...string) {
	u.t.Helper()
	for {
		if len(u.pending) == 0 {
			_, b, err := u.ws.Read(u.ctx)
			if err != nil {
				u.t.Fatalf("waiting for %q: %v", parts, err)
			}
			if b[0] != '[' {
				b = append(append([]byte{'['}, b...), ']')
			}
			if err := json.Unmarshal(b, &u.pending); err != nil {
				u.t.Fatal(err)
			}
		}
		e := string(u.pending[0])
		u.pending = u.pending[1:]
		if hasAll(e, parts) {
			return
		}
	}
}

func hasAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestWebWithoutChatListener: with --chat-addr "" the public HTTP listener still serves the
// page and the chat over /ws, with its history.
func TestWebWithoutChatListener(t *testing.T) {
	m, addrs := startMain(t, func(c *Config) { c.ChatAddr = "" })
	if addr := m.Addr("chat"); addr != "" {
		t.Fatalf("chat listener at %q with --chat-addr \"\"", addr)
	}
	base := "http://" + addrs["http"]
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("GET / = %d %.60q, want the page", code, body)
	}
	if code, body := get(t, base+"/features.json"); code != 200 || !strings.Contains(body, `"accounts":true`) {
		t.Errorf("GET /features.json = %d %q, want accounts on", code, body)
	}
	alice := joinWeb(t, addrs["http"], "alice")
	alice.send("before bob")
	bob := joinWeb(t, addrs["http"], "bob")
	bob.expect(`"text":"before bob"`) // replayed from the history
	alice.expect(`"kind":"join"`, `"from":"bob"`)
	bob.send("hello alice")
	alice.expect(`"from":"bob"`, `"text":"hello alice"`)
}

// TestShutdownReturnsWebSocketError: a shutdown that cannot wait for a browser to close says so
// in Shutdown's error, naming the listener, instead of only in the log.
func TestShutdownReturnsWebSocketError(t *testing.T) {
	m, addrs := startMain(t, nil)
	joinWeb(t, addrs["http"], "stuck") // never reads again: its close handshake cannot end
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := m.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "http: websocket shutdown") {
		t.Fatalf("Shutdown = %v, want the WebSocket gateway's error, naming the http listener", err)
	}
}
