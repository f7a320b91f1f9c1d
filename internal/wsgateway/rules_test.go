package wsgateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/wsgateway"
)

// gateway is one chat with both transports, and the WebSocket server's log.
type gateway struct {
	lineAddr string
	url      string
	logs     *chattest.Logs
}

// startGateway is start with the chat's configuration and the gateway's log in the test's
// hands. The line transport has no line rate and a large queue: telnet users here are the
// test's tools.
func startGateway(t *testing.T, chatCfg chat.Config, cfg wsgateway.Config, setup ...func(*wsgateway.Server)) gateway {
	t.Helper()
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	line.MaxQueue = 64 << 20
	srv := chattest.StartChat(t, line, chatCfg, nil)
	logs := &chattest.Logs{}
	ws := wsgateway.NewServer(cfg, srv.Hub, nil, slog.New(slog.NewTextHandler(logs, nil)))
	for _, f := range setup {
		f(ws)
	}
	hs := httptest.NewServer(ws)
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

// dialSmallWindow dials with an 8 KiB receive buffer, so that a client that does not read
// fills its side of the socket quickly (loopback buffers otherwise grow to megabytes).
func dialSmallWindow(t *testing.T, url string) *client {
	t.Helper()
	d := &net.Dialer{Timeout: chattest.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		if cerr := rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		}); cerr != nil {
			return cerr
		}
		return err
	}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return dial(t, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
}

// register answers the prompt with name and reads up to the current room.
func (c *client) register(name string) {
	c.t.Helper()
	c.expect(event{Kind: "prompt"})
	c.send(name)
	c.expect(event{Kind: "welcome", From: name})
	c.expect(event{Kind: "current", Room: "#lobby"})
}

var skippedNotice = regexp.MustCompile(`^(\d+) lines? skipped: you read slower than this room talks; /history to catch up$`)

// TestSlowReaderSkipsRoomLines has a browser that reads nothing while a telnet user floods
// the room with many times its queue, then reads: it is still connected, it got the newest
// lines in order and notices saying how many were skipped (which add up), and the private
// message sent to it in the middle of the flood was not skipped. Frames past maxCopiedFrame are
// queued by reference, others copied into blocks, whose frames are skipped one by one.
func TestSlowReaderSkipsRoomLines(t *testing.T) {
	for _, tc := range []struct {
		name             string
		filler           string
		rounds, perRound int // 4 to 6 MB: many times the queue and the sockets' buffers
	}{
		{"shared frames", strings.Repeat("<", 1500), 40, 100},
		{"large frames in blocks", floodFiller, 60, 100},
		{"small frames in blocks", strings.Repeat("<", 30), 120, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slowReaderSkipsRoomLines(t, tc.filler, tc.rounds, tc.perRound)
		})
	}
}

func slowReaderSkipsRoomLines(t *testing.T, filler string, rounds, perRound int) {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = time.Minute // the reader pauses for the whole flood; it is not stalled for good
	g := startGateway(t, chat.DefaultConfig(), cfg)

	slow := dialSmallWindow(t, g.url)
	slow.register("slow")
	talker := chattest.Join(t, g.lineAddr, "talker")
	listener := chattest.Join(t, g.lineAddr, "listener")
	talker.Expect("listener has joined the channel")
	slow.expect(event{Kind: "join", From: "talker"})
	slow.expect(event{Kind: "join", From: "listener"})

	floodRoomWith(t, talker, listener, filler, rounds, perRound, nil)
	received, skipped, notices, pm := 0, 0, 0, false
	prev := -1
	for {
		e, err := slow.next()
		if err != nil {
			t.Fatalf("the slow reader was disconnected: %v (logs: %s)", err, g.logs)
		}
		switch {
		case e.Kind == "message" && e.Text == "last":
			received++
		case e.Kind == "message":
			n, err := strconv.Atoi(strings.TrimSuffix(e.Text, " "+filler))
			if err != nil || n <= prev {
				t.Fatalf("got %.40q after line %d", e.Text, prev)
			}
			prev = n
			received++
			continue
		case e.Kind == "private" && e.Text == "psst":
			pm = true
			continue
		case e.Kind == "notice" && skippedNotice.MatchString(e.Text):
			n, _ := strconv.Atoi(skippedNotice.FindStringSubmatch(e.Text)[1])
			skipped += n
			notices++
			continue
		default:
			t.Fatalf("unexpected event %+v", e)
		}
		break
	}
	// Lines skipped after the first notice of the stretch are told once the reader has caught
	// up: after "last". An answer of its own comes after that notice.
	slow.send("/rooms")
	for {
		e, err := slow.next()
		if err != nil {
			t.Fatalf("the slow reader was disconnected: %v", err)
		}
		if e.Kind == "rooms" {
			break
		}
		if e.Kind != "notice" || !skippedNotice.MatchString(e.Text) {
			t.Fatalf("unexpected event after the last line: %+v", e)
		}
		n, _ := strconv.Atoi(skippedNotice.FindStringSubmatch(e.Text)[1])
		skipped += n
		notices++
	}
	if !pm {
		t.Error("the private message was skipped")
	}
	if skipped == 0 || received+skipped != rounds*perRound+1 {
		t.Errorf("received %d lines and was told of %d skipped, want some skipped and %d in all", received, skipped, rounds*perRound+1)
	}
	if notices > 2*rounds*perRound*(len(filler)+100)/cfg.MaxQueue {
		t.Errorf("%d notices of skipped lines: told too often", notices)
	}
	t.Logf("received %d, skipped %d in %d notices", received, skipped, notices)
	slow.send("still here")
	talker.Expect("<slow> still here")
}

// TestStalledReaderIsDropped has a browser that reads nothing at all: once its socket takes no
// data for the write timeout it is dropped, and the room goes on.
func TestStalledReaderIsDropped(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = 500 * time.Millisecond
	g := startGateway(t, chat.DefaultConfig(), cfg)

	stalled := dialSmallWindow(t, g.url)
	stalled.register("stalled")
	talker := chattest.Join(t, g.lineAddr, "talker")
	listener := chattest.Join(t, g.lineAddr, "listener")
	talker.Expect("listener has joined the channel")

	filler := strings.Repeat("f", 900)
	for round := 0; !strings.Contains(g.logs.String(), "name=stalled"); round++ {
		if round == 1000 {
			t.Fatal("the stalled reader was never dropped")
		}
		var b strings.Builder
		for i := range 100 {
			fmt.Fprintf(&b, "%d %s\n", i, filler)
		}
		talker.Write(b.String())
		for i := 0; i < 100; {
			if got := listener.ReadLine(); got != "stalled has left the channel." {
				i++
			}
		}
	}
	g.logs.WaitFor(t, "connection closed", "service=ws", "name=stalled", `reason="write timeout"`)
	talker.Send("still here")
	for {
		switch got := listener.ReadLine(); {
		case got == "<talker> still here":
			return
		case got == "stalled has left the channel.", strings.HasPrefix(got, "<talker> "):
		default:
			t.Fatalf("listener got %.40q", got)
		}
	}
}

// TestUnreadAnswersHaveACap has a browser ask for help again and again and read none of the
// answers: answers to its own commands cannot be skipped, so once they pass the hard cap it is
// dropped as a slow consumer, without waiting for the write timeout.
func TestUnreadAnswersHaveACap(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 16 << 10
	cfg.WriteTimeout = time.Minute
	g := startGateway(t, chat.DefaultConfig(), cfg, func(s *wsgateway.Server) { s.SetTestSendBuffer(16 << 10) })

	c := dialSmallWindow(t, g.url)
	c.register("reader")
	help := []byte(`{"type":"line","text":"/help"}`)
	for range 1000 { // a MB or more of answers
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		err := c.ws.Write(ctx, websocket.MessageText, help)
		cancel()
		if err != nil {
			break // dropped
		}
	}
	g.logs.WaitFor(t, "connection closed", "service=ws", "name=reader", `reason="slow consumer"`)
}

// TestFloodIsMuted has browsers go on sending faster than the line rate: lines, or messages
// that are not lines at all. Either way they count against the rate, and the user is muted.
func TestFloodIsMuted(t *testing.T) {
	for _, tc := range []struct{ name, msg string }{
		{"lines", `{"type":"line","text":"spam"}`},
		{"malformed", `not json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.LineRate, cfg.LineBurst, cfg.FloodAfter = 20, 5, 300*time.Millisecond
			g := startGateway(t, chat.DefaultConfig(), cfg)
			c := dial(t, g.url, nil)
			c.register("flooder")
			ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
			defer cancel()
			for range 100 { // small messages: the sockets take them all at once
				if err := c.ws.Write(ctx, websocket.MessageText, []byte(tc.msg)); err != nil {
					t.Fatal(err)
				}
			}
			for {
				e, err := c.next()
				if err != nil {
					t.Fatalf("never muted: %v", err)
				}
				if e.Kind == "notice" && strings.HasPrefix(e.Text, "you are sending too fast: muted for") {
					return
				}
			}
		})
	}
}

// TestKickReasonFitsCloseFrame kicks a browser with a reason too long for a close frame: it
// still gets one, with the reason cut at a character boundary, and the page can say why.
func TestKickReasonFitsCloseFrame(t *testing.T) {
	chatCfg := chat.DefaultConfig()
	chatCfg.OperPassword = "sesame"
	g := startGateway(t, chatCfg, testConfig())
	victim := dial(t, g.url, nil)
	victim.register("victim")
	op := chattest.Join(t, g.lineAddr, "op")
	op.Send("/oper sesame")
	op.ReadLine()
	victim.expect(event{Kind: "join", From: "op"})

	reason := strings.Repeat("é", 100) // 200 bytes
	op.Send("/kick victim " + reason)
	told := "you were kicked by op: " + reason
	victim.expect(event{Kind: "notice", Text: told})
	code, got := victim.closed()
	if code != websocket.StatusPolicyViolation || len(got) > 123 || len(got) < 120 || !utf8.ValidString(got) ||
		!strings.HasPrefix(told, got) {
		t.Errorf("closed with %v %q (%d bytes), want 1008 and the start of %q", code, got, len(got), told)
	}
}

// TestOriginCheck sends real upgrade requests with various Origin and Host headers: only
// loopback pages, pages of OriginPatterns and requests with no Origin may connect. The Host
// header does not count: with DNS rebinding, another site's page sends its own name there.
func TestOriginCheck(t *testing.T) {
	cfg := testConfig()
	cfg.OriginPatterns = []string{"*.example.com", "https://chat.example.org"}
	g := startGateway(t, chat.DefaultConfig(), cfg)
	for _, tc := range []struct {
		origin, host string
		want         int
	}{
		{"", "", http.StatusSwitchingProtocols},
		{"http://evil.example", "evil.example", http.StatusForbidden},
		{"http://evil.example", "", http.StatusForbidden},
		{"http://127.0.0.1:8080", "", http.StatusSwitchingProtocols},
		{"http://127.9.9.9", "", http.StatusSwitchingProtocols},
		{"http://localhost:3000", "", http.StatusSwitchingProtocols},
		{"http://[::1]:8080", "", http.StatusSwitchingProtocols},
		{"http://localhost.evil.example", "localhost.evil.example", http.StatusForbidden},
		{"http://127.0.0.1.evil.example", "", http.StatusForbidden},
		{"https://www.example.com", "", http.StatusSwitchingProtocols},
		{"https://example.com", "example.com", http.StatusForbidden},
		{"https://chat.example.org", "", http.StatusSwitchingProtocols},
		{"http://chat.example.org", "chat.example.org", http.StatusForbidden},
		{"null", "", http.StatusForbidden},
	} {
		if got := upgradeStatus(t, g.url, tc.origin, tc.host); got != tc.want {
			t.Errorf("origin %q host %q: %d, want %d", tc.origin, tc.host, got, tc.want)
		}
	}
}

// upgradeStatus asks url for a WebSocket upgrade with the Origin and Host headers given (none
// when empty), and returns the status of the answer.
func upgradeStatus(t *testing.T, url, origin, host string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if host != "" {
		req.Host = host
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: chattest.Timeout}).Do(req)
	if err != nil {
		t.Fatalf("origin %.40q host %q: %v", origin, host, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestJSONIsNotHTMLEscaped checks that markup characters travel as themselves: escaped, each
// would take six bytes of the client's queue.
func TestJSONIsNotHTMLEscaped(t *testing.T) {
	g := startGateway(t, chat.DefaultConfig(), testConfig())
	c := dial(t, g.url, nil)
	c.register("reader")
	nc := chattest.Join(t, g.lineAddr, "writer")
	c.expect(event{Kind: "join", From: "writer"})
	nc.Send("<b>&amp;</b>")
	raw, err := c.nextRaw()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"text":"<b>&amp;</b>"`) {
		t.Errorf("got %s", raw)
	}
}

// TestRefusalsDoNotFloodTheLog: one client sending upgrade after upgrade with a long Origin of
// its own gets a log line per interval, not one per request, and not its header in full.
func TestRefusalsDoNotFloodTheLog(t *testing.T) {
	g := startGateway(t, chat.DefaultConfig(), testConfig())
	origin := "http://evil.example/" + strings.Repeat("A", 15000)
	for range 200 {
		if got := upgradeStatus(t, g.url, origin, ""); got != http.StatusForbidden {
			t.Fatalf("status %d, want 403", got)
		}
	}
	logged := 0
	for _, line := range strings.Split(g.logs.String(), "\n") {
		if strings.Contains(line, "websocket refused") {
			logged++
			if len(line) > 1000 {
				t.Errorf("a refusal logged %d bytes", len(line))
			}
		}
	}
	if logged == 0 || logged > 2 {
		t.Errorf("200 refusals logged %d lines, want 1 (or 2 across an interval)", logged)
	}
}

// floodFiller pads each line floodRoom has said, so that a few rounds fill a queue.
var floodFiller = strings.Repeat("<", 900)

// floodRoom has talker say rounds of perRound numbered lines ("N <<<..."), each read by
// listener before the next round, with a private message from listener to slow halfway, and
// then "last". before, when not nil, is called before each round (to pace them).
func floodRoom(t *testing.T, talker, listener *chattest.Client, rounds, perRound int, before func()) {
	t.Helper()
	floodRoomWith(t, talker, listener, floodFiller, rounds, perRound, before)
}

// floodRoomWith is floodRoom with lines padded by filler.
func floodRoomWith(t *testing.T, talker, listener *chattest.Client, filler string, rounds, perRound int, before func()) {
	t.Helper()
	for round := range rounds {
		if before != nil {
			before()
		}
		var b strings.Builder
		for i := range perRound {
			fmt.Fprintf(&b, "%d %s\n", round*perRound+i, filler)
		}
		talker.Write(b.String())
		for i := range perRound {
			if got, want := listener.ReadLine(), fmt.Sprintf("<talker> %d %s", round*perRound+i, filler); got != want {
				t.Fatalf("listener got %.40q, want %.40q", got, want)
			}
		}
		if round == rounds/2 {
			listener.Send("/msg slow psst")
			listener.Expect("[PM to slow] psst",
				"*** private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
		}
	}
	talker.Send("last")
	listener.Expect("<talker> last")
}
