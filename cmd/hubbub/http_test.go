package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chattest"
)

// startMain runs hubbub in-process on ephemeral ports with history in a temporary directory,
// and returns it with the address of each service that is on.
func startMain(t *testing.T, change func(*Config)) (*Main, map[string]string) {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ChatAddr, cfg.QuoteAddr, cfg.EchoAddr, cfg.HTTPAddr = "127.0.0.1:0", "", "", "127.0.0.1:0"
	cfg.AdminAddr, cfg.IRCAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Line.LineRate = 0
	if change != nil {
		change(&cfg)
	}
	m := &Main{cfg: cfg, log: slog.New(slog.NewTextHandler(&chattest.Logs{}, nil))}
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		m.Shutdown(ctx)
	})
	addrs := map[string]string{}
	for _, l := range m.listeners() {
		if addr := m.Addr(l.name); addr != "" {
			addrs[l.name] = addr
		}
	}
	return m, addrs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// metricValue returns the value of the sample named (with labels) in a /metrics page.
func metricValue(page, sample string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(page)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// waitMetrics scrapes /metrics until every sample has the value wanted: counters are moved
// just after the bytes they count reach the socket.
func waitMetrics(t *testing.T, base string, want map[string]float64) string {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		_, page := get(t, base+"/metrics")
		var wrong []string
		for sample, v := range want {
			if got, ok := metricValue(page, sample); !ok || got != v {
				wrong = append(wrong, fmt.Sprintf("%s = %v (found %v), want %v", sample, got, ok, v))
			}
		}
		if len(wrong) == 0 {
			return page
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never came right:\n%s", strings.Join(wrong, "\n"))
		}
		<-time.After(10 * time.Millisecond)
	}
}

func TestMetricsAfterChat(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) {
		c.MaxConnsPerIP = 1
		c.LimitExempt = ""
	})
	base := "http://" + addrs["admin"]
	alice := chattest.DialFrom(t, "127.0.0.2", addrs["chat"])
	alice.Register("alice")
	bob := chattest.DialFrom(t, "127.0.0.3", addrs["chat"])
	bob.Register("bob")
	alice.Expect("bob has joined the channel")
	for i := range 5 {
		alice.Send(fmt.Sprint("line ", i))
	}
	for i := range 5 {
		bob.Expect(fmt.Sprint("<alice> line ", i))
	}
	refused := chattest.DialFrom(t, "127.0.0.3", addrs["chat"])
	refused.Expect("*** too many connections from your address (max 1)")
	// A browser counts like a telnet client, and once: 127.0.0.1 may have one connection.
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	web, _, err := websocket.Dial(ctx, "ws://"+addrs["http"]+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer web.CloseNow()
	_, resp, err := websocket.Dial(ctx, "ws://"+addrs["http"]+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a second WebSocket from 127.0.0.1: %v, %v; want 503", err, resp)
	}

	page := waitMetrics(t, base, map[string]float64{
		`hubbub_connections_accepted_total{service="chat"}`:                2,
		`hubbub_connections_open{service="chat"}`:                          2,
		`hubbub_connections_refused_total{reason="per_ip",service="chat"}`: 1,
		`hubbub_connections_open{service="http"}`:                          1,
		`hubbub_connections_refused_total{reason="per_ip",service="http"}`: 1,
		`hubbub_websockets_open`:                                           1,
		`hubbub_users`:                                                     2,
		`hubbub_rooms`:                                                     1,
		`hubbub_lines_received_total`:                                      7,  // two names, five lines
		`hubbub_deliveries_total`:                                          11, // alice: prompt, welcome, join; bob: prompt, welcome, 5 lines; the browser: prompt
		`hubbub_history_batch_lines_sum`:                                   7,  // 5 lines, 2 joins
		`hubbub_slow_consumers_total`:                                      0,
		`hubbub_history_errors_total`:                                      0,
	})
	for _, name := range []string{"hubbub_sent_bytes_total", "hubbub_queue_bytes_count", "hubbub_history_write_seconds_count",
		"go_goroutines", "process_resident_memory_bytes"} {
		if v, ok := metricValue(page, name); !ok || v <= 0 {
			t.Errorf("%s = %v, %v; want a positive value", name, v, ok)
		}
	}

	bob.Send("/quit")
	bob.Expect("*** goodbye")
	bob.ExpectClosed()
	waitMetrics(t, base, map[string]float64{
		`hubbub_connections_open{service="chat"}`: 1,
		`hubbub_users`: 1,
		`hubbub_chat_connections_closed_total{reason="quit"}`: 1,
	})
}

func TestHealthReadyAndPprof(t *testing.T) {
	m, addrs := startMain(t, nil)
	base := "http://" + addrs["http"]
	for _, listener := range []string{"http", "admin"} {
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/debug/pprof/": 404} {
			if code, body := get(t, "http://"+addrs[listener]+path); code != want {
				t.Errorf("%s: GET %s = %d %q, want %d", listener, path, code, body, want)
			}
		}
	}

	// During shutdown /readyz says so: a user who never closes holds the shutdown open.
	c := chattest.Join(t, addrs["chat"], "lingering")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		done <- m.Shutdown(ctx)
	}()
	c.Expect("*** server shutting down")
	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("GET /readyz while shutting down = %d %q, want 503 saying so", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("GET /healthz while shutting down = %d, want 200: the process is alive", code)
	}
	c.ExpectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	_, addrs = startMain(t, func(c *Config) { c.PProf = true })
	if code, body := get(t, "http://"+addrs["admin"]+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("GET /debug/pprof/ with --pprof = %d", code)
	}
	if code, _ := get(t, "http://"+addrs["http"]+"/debug/pprof/"); code != 404 {
		t.Errorf("GET /debug/pprof/ on the public listener with --pprof = %d, want 404", code)
	}
}

// TestWebSocketOnHTTPListener joins the chat from /ws on the HTTP listener while a telnet-style
// user talks.
func TestWebSocketOnHTTPListener(t *testing.T) {
	_, addrs := startMain(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addrs["http"]+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var pending []json.RawMessage
	read := func() string { // the next event, from a message of one or of an array of them
		t.Helper()
		if len(pending) == 0 {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != '[' {
				return string(b)
			}
			if err := json.Unmarshal(b, &pending); err != nil {
				t.Fatal(err)
			}
		}
		e := pending[0]
		pending = pending[1:]
		return string(e)
	}
	if got := read(); got != `{"kind":"prompt"}` {
		t.Fatalf("first event %s", got)
	}
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"line","text":"webby"}`))
	if got := read(); got != `{"kind":"welcome","from":"webby"}` {
		t.Fatalf("after the name: %s", got)
	}
	if got := read(); got != `{"kind":"current","room":"#lobby"}` {
		t.Fatalf("after the welcome: %s", got)
	}
	nc := chattest.Join(t, addrs["chat"], "termy")
	if got := read(); !strings.Contains(got, `"kind":"join"`) || !strings.Contains(got, `"from":"termy"`) {
		t.Fatalf("join event %s", got)
	}
	ws.Write(ctx, websocket.MessageText, []byte(`{"type":"line","text":"hi from the web"}`))
	nc.Expect("<webby> hi from the web")
}
