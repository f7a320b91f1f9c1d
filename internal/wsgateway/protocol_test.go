package wsgateway_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/wsgateway"
)

// rawClient speaks WebSocket frame by frame over a plain TCP connection, so that a test can
// send what a library would not (fragments with control frames between, unmasked frames) and
// see every frame the server sends.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialRaw does the opening handshake by hand.
func dialRaw(t *testing.T, url string) *rawClient {
	t.Helper()
	return dialRawWith(t, url, &net.Dialer{Timeout: chattest.Timeout})
}

// dialRawWith is dialRaw through d.
func dialRawWith(t *testing.T, url string, d *net.Dialer) *rawClient {
	t.Helper()
	host := strings.TrimPrefix(url, "ws://")
	host, path, _ := strings.Cut(host, "/")
	nc, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(chattest.Timeout))
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %s %v", resp.Status, resp.Header)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// frame sends one frame; masked as a client's must be unless unmasked is set.
func (c *rawClient) frame(fin bool, op byte, payload []byte, unmasked bool) {
	c.t.Helper()
	if _, err := c.nc.Write(frameBytes(fin, op, payload, unmasked)); err != nil {
		c.t.Fatalf("write a frame: %v", err)
	}
}

// frameBytes returns a frame; masked as a client's must be unless unmasked is set.
func frameBytes(fin bool, op byte, payload []byte, unmasked bool) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	maskBit := byte(0x80)
	if unmasked {
		maskBit = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, maskBit|byte(n))
	default:
		b = binary.BigEndian.AppendUint16(append(b, maskBit|126), uint16(n))
	}
	p := append([]byte(nil), payload...)
	if !unmasked {
		mask := [4]byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, mask[:]...)
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return append(b, p...)
}

func (c *rawClient) line(text string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "line", "text": text})
	c.frame(true, 0x1, b, false)
}

// read returns the next frame's opcode and payload. Server frames are never fragmented here.
func (c *rawClient) read() (byte, []byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(chattest.Timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		c.t.Fatalf("the server sent a masked frame")
	}
	if h[0]&0x80 == 0 {
		c.t.Fatalf("the server sent a fragment")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(c.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.br, p)
	return h[0] & 0x0f, p, err
}

// until reads frames until a text frame holding an event of kind (or a close frame, which
// fails the test), answering nothing, and returns the event's text.
func (c *rawClient) until(kind string) string {
	c.t.Helper()
	for {
		op, p, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for a %s event: %v", kind, err)
		}
		if op == 0x8 {
			c.t.Fatalf("waiting for a %s event: closed with %q", kind, p)
		}
		if op != 0x1 {
			continue
		}
		var events []struct{ Kind, Text, From string }
		if len(p) > 0 && p[0] != '[' { // one event, or an array of them
			p = append(append([]byte{'['}, p...), ']')
		}
		if err := json.Unmarshal(p, &events); err != nil {
			c.t.Fatalf("not JSON events: %q", p)
		}
		for _, e := range events {
			if e.Kind == kind {
				return e.Text + e.From
			}
		}
	}
}

// closeFrame reads frames until a close frame, and returns its code and reason.
func (c *rawClient) closeFrame() (int, string) {
	c.t.Helper()
	for {
		op, p, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for a close frame: %v", err)
		}
		if op == 0x8 {
			if len(p) < 2 {
				return 0, ""
			}
			return int(binary.BigEndian.Uint16(p)), string(p[2:])
		}
	}
}

// TestFramesByHand sends what browsers and libraries may send and the library tests did not:
// a message in fragments with a ping between them, pings, binary and unmasked frames, invalid
// UTF-8, and a close frame of the client's own.
func TestFramesByHand(t *testing.T) {
	g := startGateway(t, chat.DefaultConfig(), testConfig())

	t.Run("fragments with a ping between", func(t *testing.T) {
		c := dialRaw(t, g.url)
		c.until("prompt")
		c.frame(false, 0x1, []byte(`{"type":"li`), false)
		c.frame(true, 0x9, []byte("are you there"), false)
		c.frame(false, 0x0, []byte(`ne","text":"frag`), false)
		c.frame(true, 0x0, []byte(`ment"}`), false)
		// The pong comes first: the message was not complete when the ping came.
		op, p, err := c.read()
		if err != nil || op != 0xA || string(p) != "are you there" {
			t.Fatalf("got frame %x %q %v, want the pong", op, p, err)
		}
		if got := c.until("welcome"); got != "fragment" {
			t.Errorf("welcomed as %q", got)
		}
	})

	t.Run("invalid UTF-8 is replaced, not refused", func(t *testing.T) {
		c := dialRaw(t, g.url)
		c.until("prompt")
		c.line("utf")
		c.until("welcome")
		listener := chattest.Join(t, g.lineAddr, "listener8")
		c.until("join")
		c.frame(true, 0x1, []byte("{\"type\":\"line\",\"text\":\"a\xff\xfeb\"}"), false)
		line := listener.ReadLine()
		if line == "fragment has left the channel." {
			line = listener.ReadLine() // the subtest before's user, whose leave may come this late
		}
		if want := "<utf> a\uFFFD\uFFFDb"; line != want {
			t.Fatalf("got line %q, want %q", line, want)
		}
	})

	for _, tc := range []struct {
		name   string
		send   func(c *rawClient)
		code   int
		reason string
		reply  bool // the server waits for the client's close frame (else: it answered the client's,
		// or it reads nothing more after a frame that broke the protocol)
	}{
		{"binary", func(c *rawClient) { c.frame(true, 0x2, []byte("{}"), false) }, 1003, "send JSON text messages", true},
		{"unmasked", func(c *rawClient) { c.frame(true, 0x1, []byte("{}"), true) }, 1002, "", false},
		{"continuation first", func(c *rawClient) { c.frame(true, 0x0, []byte("{}"), false) }, 1002, "", false},
		{"data inside a fragmented message", func(c *rawClient) {
			c.frame(false, 0x1, []byte("{"), false)
			c.frame(true, 0x1, []byte("{}"), false)
		}, 1002, "", false},
		{"fragmented ping", func(c *rawClient) { c.frame(false, 0x9, nil, false) }, 1002, "", false},
		{"too big in fragments", func(c *rawClient) {
			// In one write: the server closes as soon as it sees the fragment too many.
			b := frameBytes(false, 0x1, []byte(strings.Repeat("x", 100)), false)
			for range 10 {
				b = append(b, frameBytes(false, 0x0, []byte(strings.Repeat("x", 100)), false)...)
			}
			c.nc.Write(b)
		}, 1009, "", false},
		{"the client closes", func(c *rawClient) {
			c.frame(true, 0x8, append(binary.BigEndian.AppendUint16(nil, 4000), "bye"...), false)
		}, 4000, "bye", false},
		{"the client closes with no code", func(c *rawClient) { c.frame(true, 0x8, nil, false) }, 0, "", false},
		{"a close code past 4999", func(c *rawClient) {
			c.frame(true, 0x8, binary.BigEndian.AppendUint16(nil, 5000), false)
		}, 1002, "", false},
		{"a close code only for APIs", func(c *rawClient) {
			c.frame(true, 0x8, binary.BigEndian.AppendUint16(nil, 1005), false)
		}, 1002, "", false},
		{"a 64-bit length with its top bit set", func(c *rawClient) {
			// 2^63 + 2, then two bytes: read as a message of two bytes, the top bit dropped.
			h := binary.BigEndian.AppendUint64([]byte{0x81, 0x80 | 127}, 1<<63|2)
			c.nc.Write(append(append(h, 0, 0, 0, 0), "{}"...))
		}, 1002, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxMessage = 500
			g := startGateway(t, chat.DefaultConfig(), cfg)
			c := dialRaw(t, g.url)
			c.until("prompt")
			tc.send(c)
			code, reason := c.closeFrame()
			if code != tc.code || (tc.reason != "" && reason != tc.reason) {
				t.Errorf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
			if tc.reply {
				c.frame(true, 0x8, binary.BigEndian.AppendUint16(nil, uint16(code)), false)
			}
			// Then the server closes the connection.
			if _, _, err := c.read(); !errors.Is(err, io.EOF) {
				t.Errorf("after the close frames: %v, want EOF", err)
			}
		})
	}
}

// TestCloseHandshakeNeverAnswered has a client that reads the server's close frame and never
// sends its own: the server closes the connection anyway, a few seconds later.
func TestCloseHandshakeNeverAnswered(t *testing.T) {
	g := startGateway(t, chat.DefaultConfig(), testConfig())
	c := dialRaw(t, g.url)
	c.until("prompt")
	c.line("quitter")
	c.until("welcome")
	c.line("/quit")
	if code, reason := c.closeFrame(); code != 1000 || reason != "quit" {
		t.Fatalf("closed with %d %q, want 1000 quit", code, reason)
	}
	c.nc.SetReadDeadline(time.Now().Add(4 * chattest.Timeout))
	_, err := c.br.ReadByte()
	if !errors.Is(err, io.EOF) {
		t.Fatalf("after a close frame left unanswered: %v, want EOF (the server closes)", err)
	}
	g.logs.WaitFor(t, "connection closed", "service=ws", "name=quitter", "reason=quit")
}

// TestIdleConnectionsHoldNoGoroutine registers many browsers and leaves them idle: the server
// holds no goroutine for any of them (the poller waits for their input, the flusher writes
// their output), and they still get what the room says. The same behind the listener's
// limits, as hubbub serves the page (accept.HTTPListener wraps each connection).
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	for _, limited := range []bool{false, true} {
		t.Run(fmt.Sprintf("limited=%v", limited), func(t *testing.T) { testIdleConnections(t, limited) })
	}
}

func testIdleConnections(t *testing.T, limited bool) {
	var g gateway
	if limited {
		g = startGatewayOn(t, func(ln net.Listener) net.Listener {
			return accept.NewHTTPListener(ln, "http", accept.NewLimiter(accept.Limits{}, nil), slog.New(slog.DiscardHandler))
		})
	} else {
		g = startGateway(t, chat.DefaultConfig(), testConfig())
	}
	talker := chattest.Join(t, g.lineAddr, "talker")
	// The clients here are plain sockets with no goroutine of their own.
	const n = 60
	before := runtime.NumGoroutine()
	clients := make([]*rawClient, n)
	for i := range clients {
		clients[i] = dialRaw(t, g.url)
		clients[i].until("prompt")
		clients[i].line(fmt.Sprintf("idle%d", i))
		clients[i].until("welcome")
	}
	extra := 0
	chattest.WaitFor(t, fmt.Sprintf("fewer than %d goroutines more than before %d idle connections", n/6, n), func() bool {
		extra = runtime.NumGoroutine() - before
		return extra < n/6
	})
	t.Logf("%d goroutines more for %d idle connections", extra, n)
	talker.Send("still there?")
	for _, c := range clients {
		for {
			op, p, err := c.read()
			if err != nil || op == 0x8 {
				t.Fatalf("an idle browser: %v %q", err, p)
			}
			if strings.Contains(string(p), "still there?") {
				break
			}
		}
	}
}

// startGatewayOn is startGateway with the HTTP server's listener wrapped by wrap.
func startGatewayOn(t *testing.T, wrap func(net.Listener) net.Listener) gateway {
	t.Helper()
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	logs := &chattest.Logs{}
	ws := wsgateway.NewServer(testConfig(), srv.Hub, nil, slog.New(slog.NewTextHandler(logs, nil)))
	hs := httptest.NewUnstartedServer(ws)
	hs.Listener = wrap(hs.Listener)
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := ws.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	return gateway{lineAddr: srv.Addr, url: "ws" + strings.TrimPrefix(hs.URL, "http"), logs: logs}
}

// TestLineLimitIsTheLineTransports: --max-line bounds the text of a line from the page as it
// bounds a telnet user's line; it bounded only the whole message, so that the JSON's 64 bytes
// of room let a longer line through.
func TestLineLimitIsTheLineTransports(t *testing.T) {
	cfg := testConfig()
	g := startGateway(t, chat.DefaultConfig(), cfg)
	c := dialRaw(t, g.url)
	c.until("prompt")
	c.line("longer")
	c.until("welcome")
	listener := chattest.Join(t, g.lineAddr, "listener")
	c.until("join")
	c.line(strings.Repeat("x", cfg.MaxLine+30))
	if got, want := c.until("notice"), fmt.Sprintf("line too long (max %d bytes)", cfg.MaxLine); got != want {
		t.Fatalf("told %q, want %q", got, want)
	}
	c.line("short")
	listener.Expect("<longer> short")
	c.line(strings.Repeat("y", cfg.MaxLine))
	listener.Expect("<longer> " + strings.Repeat("y", cfg.MaxLine))
}
