package wsgateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/wsgateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type event struct {
	Kind, Room, From, To, Text, Time string
	ID                               int64
	History, Elsewhere, Sent         bool
}

// start runs one chat with both transports: the line transport on a TCP port, and the
// WebSocket gateway behind a real HTTP server. It returns the line address and the ws URL.
func start(t *testing.T, cfg wsgateway.Config) (string, string) {
	t.Helper()
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	ws := wsgateway.NewServer(cfg, srv.Hub, nil, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := ws.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	return srv.Addr, "ws" + strings.TrimPrefix(hs.URL, "http")
}

func testConfig() wsgateway.Config {
	cfg := wsgateway.DefaultConfig()
	cfg.LineRate = 0
	return cfg
}

type client struct {
	t       *testing.T
	ws      *websocket.Conn
	pending []json.RawMessage // events of the last message not read yet

	// rate, when set, is how many bytes a second the client reads at, as a slow link does.
	rate  int
	start time.Time
	total int
}

// nextRaw returns the next event, from a message of one event or of an array of them.
func (c *client) nextRaw() (json.RawMessage, error) {
	if len(c.pending) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		if c.rate > 0 {
			if c.start.IsZero() {
				c.start = time.Now()
			}
			// Wait until the bytes read so far are due at rate.
			c.total += len(b)
			// A slow link: wait until the bytes read so far are due at rate.
			<-time.After(time.Until(c.start.Add(time.Duration(c.total) * time.Second / time.Duration(c.rate))))
		}
		if len(b) > 0 && b[0] == '[' {
			if err := json.Unmarshal(b, &c.pending); err != nil || len(c.pending) < 2 {
				c.t.Fatalf("bad array message %q: %v", b, err)
			}
		} else {
			c.pending = []json.RawMessage{b}
		}
	}
	e := c.pending[0]
	c.pending = c.pending[1:]
	return e, nil
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20) // the server batches events into messages of up to 64 KiB
	return &client{t: t, ws: ws}
}

func (c *client) send(text string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "line", "text": text})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send %q: %v", text, err)
	}
}

func (c *client) next() (event, error) {
	b, err := c.nextRaw()
	if err != nil {
		return event{}, err
	}
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		c.t.Fatalf("not JSON: %q", b)
	}
	return e, nil
}

// expect reads the next event and checks the fields want sets.
func (c *client) expect(want event) event {
	c.t.Helper()
	got, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for %+v: %v", want, err)
	}
	if got.Kind != want.Kind || (want.Room != "" && got.Room != want.Room) || (want.From != "" && got.From != want.From) ||
		(want.Text != "" && got.Text != want.Text) || (want.To != "" && got.To != want.To) || got.Sent != want.Sent {
		c.t.Fatalf("got %+v, want %+v", got, want)
	}
	return got
}

// expectRaw reads the next event, which must be of kind, as a map.
func (c *client) expectRaw(kind string) map[string]any {
	c.t.Helper()
	b, err := c.nextRaw()
	if err != nil {
		c.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["kind"] != kind {
		c.t.Fatalf("got %s, want a %s event", b, kind)
	}
	return m
}

// closed reads until the server closes the connection and returns the close status.
func (c *client) closed() (websocket.StatusCode, string) {
	c.t.Helper()
	for {
		if _, err := c.next(); err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				c.t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce.Code, ce.Reason
		}
	}
}

func TestBrowserAndTelnetTalk(t *testing.T) {
	lineAddr, url := start(t, testConfig())
	alice := dial(t, url, nil)
	alice.expect(event{Kind: "prompt"})
	alice.send("alice")
	alice.expect(event{Kind: "welcome", From: "alice"})
	alice.expect(event{Kind: "current", Room: "#lobby"})

	bob := chattest.Join(t, lineAddr, "bob")
	alice.expect(event{Kind: "join", Room: "#lobby", From: "bob"})
	bob.Send("hi from nc")
	alice.expect(event{Kind: "message", Room: "#lobby", From: "bob", Text: "hi from nc"})
	alice.send("hello <b>terminal</b> \x1b[31m")
	bob.Expect("<alice> hello <b>terminal</b> ")

	// Commands, rooms, private messages: the same chat.
	alice.send("/join go")
	alice.expect(event{Kind: "current", Room: "#go"})
	alice.expect(event{Kind: "notice", Text: "you made #go and own it: plain lines now go there"})
	// Lists come as data, not as text to parse.
	alice.send("/rooms")
	rooms := alice.expectRaw("rooms")
	if rooms["total"] != 2.0 || !strings.Contains(fmt.Sprint(rooms["rooms"]), "name:#lobby") {
		t.Errorf("rooms event %v", rooms)
	}
	alice.send("/who lobby")
	who := alice.expectRaw("members")
	if who["room"] != "#lobby" || who["total"] != 2.0 || !strings.Contains(fmt.Sprint(who["members"]), "name:bob") {
		t.Errorf("members event %v", who)
	}
	bob.Send("/msg alice psst")
	bob.Expect("[PM to alice] psst", "*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
	alice.expect(event{Kind: "private", From: "bob", To: "alice", Text: "psst"})
	alice.send("/msg bob back")
	alice.expect(event{Kind: "private", From: "alice", To: "bob", Text: "back", Sent: true})
	alice.expect(event{Kind: "notice", Text: "private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history"})
	bob.Expect("[PM from alice] back")
	bob.Send("in the lobby")
	e := alice.expect(event{Kind: "message", Room: "#lobby", From: "bob", Text: "in the lobby"})
	if !e.Elsewhere {
		t.Errorf("a lobby line reached alice, who talks in #go, without elsewhere: %+v", e)
	}
	alice.send("/me waves")
	alice.send("/quit off")
	alice.expect(event{Kind: "notice", Text: "goodbye"})
	if code, reason := alice.closed(); code != websocket.StatusNormalClosure || reason != "quit" {
		t.Errorf("closed with %v %q, want 1000 quit", code, reason)
	}
	bob.Expect("alice has left the channel. (quit: off)")
}

func TestProtocolLimits(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessage = 200
	cfg.RegisterTimeout = 300 * time.Millisecond
	_, url := start(t, cfg)

	// A message over the limit ends the connection with 1009.
	c := dial(t, url, nil)
	c.expect(event{Kind: "prompt"})
	c.send(strings.Repeat("x", 300))
	if code, _ := c.closed(); code != websocket.StatusMessageTooBig {
		t.Errorf("oversized message: closed with %v, want 1009", code)
	}

	// Not JSON, or not a line: told how, and still connected.
	c = dial(t, url, nil)
	c.expect(event{Kind: "prompt"})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	c.ws.Write(ctx, websocket.MessageText, []byte("not json"))
	c.expect(event{Kind: "notice", Text: `messages are {"type":"line","text":"..."}`})
	c.send("carol")
	c.expect(event{Kind: "welcome", From: "carol"})

	// No name in time: told why, then closed with 1008.
	slow := dial(t, url, nil)
	slow.expect(event{Kind: "prompt"})
	slow.expect(event{Kind: "notice", Text: "timed out waiting for your name, goodbye"})
	if code, reason := slow.closed(); code != websocket.StatusPolicyViolation || reason != "timed out waiting for your name" {
		t.Errorf("register timeout: closed with %v %q", code, reason)
	}

	// Another site's page may not connect.
	ctx, cancel = context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin dial: %v (response %v), want 403", err, resp)
	}
}

func TestShutdownTellsBrowsers(t *testing.T) {
	line := lineproto.DefaultConfig()
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	ws := wsgateway.NewServer(testConfig(), srv.Hub, nil, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(ws)
	defer hs.Close()
	c := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	c.expect(event{Kind: "prompt"})
	c.send("dave")
	c.expect(event{Kind: "welcome", From: "dave"})
	c.expect(event{Kind: "current", Room: "#lobby"})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		done <- ws.Shutdown(ctx)
	}()
	c.expect(event{Kind: "notice", Text: "server shutting down"})
	if code, reason := c.closed(); code != websocket.StatusGoingAway || reason != "server shutting down" {
		t.Errorf("closed with %v %q, want 1001", code, reason)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
