package loadgen_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/echo"
	"hubbub/internal/lineproto"
	"hubbub/internal/loadgen"
	"hubbub/internal/quote"
	"hubbub/internal/wsgateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func opts(addr string) loadgen.Options {
	return loadgen.Options{Addr: addr, Timeout: 30 * time.Second}
}

func chatServer(t *testing.T) string {
	t.Helper()
	cfg := lineproto.DefaultConfig()
	cfg.LineRate = 0
	return chattest.Start(t, cfg).Addr
}

func checkCounts(t *testing.T, r *loadgen.Result, want map[string]int64) {
	t.Helper()
	for k, v := range want {
		if r.Counts[k] != v {
			t.Errorf("%s = %d, want %d (result %+v)", k, r.Counts[k], v, r.Counts)
		}
	}
	if len(r.Errors) > 0 {
		t.Errorf("errors: %v", r.Errors)
	}
}

func TestFanout(t *testing.T) {
	addr := chatServer(t)
	for i, rate := range []float64{0, 1000} {
		// Each run's names are its own: the users of the run before may still be leaving.
		cfg := loadgen.FanoutConfig{Users: 6, Senders: 2, Msgs: 40, Rate: rate, RunID: fmt.Sprint("t", i)}
		r, err := loadgen.Run(t.Context(), loadgen.Fanout(cfg), opts(addr), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Each of 2 senders reaches the other 5 users.
		checkCounts(t, r, map[string]int64{"registered": 6, "deliveries": 2 * 40 * 5, "expected": 400, "lost": 0, "reordered": 0})
		if h := r.Latency["delivery"]; h.Count() != 400 || h.Quantile(0.99) <= 0 {
			t.Errorf("delivery latency has %d samples, p99 %v", h.Count(), h.Quantile(0.99))
		}
		if r.Rates["deliveries_per_s"] <= 0 {
			t.Errorf("no delivery rate: %v", r.Rates)
		}
	}
}

func TestConns(t *testing.T) {
	addr := chatServer(t)
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 30, Hold: 10 * time.Millisecond, RunID: "c"}), opts(addr), []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 30})
	if r.Server == nil || r.Server.RSSAfter == 0 || r.Server.PeakRSS < r.Server.RSSAfter {
		t.Errorf("server stats missing: %+v", r.Server)
	}
	if _, ok := r.Rates["server_rss_per_conn_bytes"]; !ok {
		t.Errorf("no RSS per connection: %v", r.Rates)
	}
}

func TestQuote(t *testing.T) {
	addr := chattest.Serve(t, quote.NewServer(quote.DefaultConfig(), nil, slog.New(slog.DiscardHandler)))
	r, err := loadgen.Run(t.Context(), loadgen.Quote(loadgen.QuoteConfig{Conns: 400, InFlight: 50, RunID: "q"}), opts(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"quotes_sent": 400, "answers": 400, "duplicate_answers": 0, "never_handed_out": 0})
}

func TestEcho(t *testing.T) {
	addr := chattest.Serve(t, echo.NewServer(echo.DefaultConfig(), nil, slog.New(slog.DiscardHandler)))
	r, err := loadgen.Run(t.Context(), loadgen.Echo(loadgen.EchoConfig{Conns: 4, Bytes: 100, Duration: 100 * time.Millisecond}), opts(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts["round_trips"] == 0 || r.Latency["rtt"].Count() != uint64(r.Counts["round_trips"]) {
		t.Errorf("round trips %d, rtt samples %d", r.Counts["round_trips"], r.Latency["rtt"].Count())
	}
	checkCounts(t, r, map[string]int64{"conns": 4})
}

func TestErrorsAreCountedNotFatal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	r, err := loadgen.Run(t.Context(), loadgen.Quote(loadgen.QuoteConfig{Conns: 10, InFlight: 5, RunID: "e"}), opts(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors["connect: connection refused"]+r.Errors["connection refused"] != 10 {
		t.Errorf("errors = %v, want 10 refused connections", r.Errors)
	}
}

func TestOnlyLoopbackUnlessAllowed(t *testing.T) {
	// 192.0.2.0/24 is reserved for documentation: nothing is sent, the target is refused first.
	_, err := loadgen.Run(t.Context(), loadgen.Echo(loadgen.EchoConfig{Conns: 1, Bytes: 1, Duration: time.Millisecond}), opts("192.0.2.1:8007"), nil)
	if err == nil || !strings.Contains(err.Error(), "--allow-remote") {
		t.Fatalf("err = %v, want a refusal naming --allow-remote", err)
	}
}

func TestResultJSON(t *testing.T) {
	addr := chatServer(t)
	r, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 3, Senders: 1, Msgs: 10, RunID: "j"}), opts(addr), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back loadgen.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Counts["deliveries"] != 20 || back.Latency["delivery"].Count() != 20 ||
		back.Latency["delivery"].Quantile(0.5) != r.Latency["delivery"].Quantile(0.5) {
		t.Errorf("JSON round trip changed the result: %s", b)
	}
}

// TestFanoutWS runs the fan-out scenario against the WebSocket gateway, with a TCP user in the
// same chat.
func TestFanoutWS(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	wsCfg := wsgateway.DefaultConfig()
	wsCfg.LineRate = 0
	ws := wsgateway.NewServer(wsCfg, srv.Hub, nil, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		ws.Shutdown(ctx)
		hs.Close()
	})
	o := opts(strings.TrimPrefix(hs.URL, "http://"))
	o.WS = true
	r, err := loadgen.Run(t.Context(), loadgen.Fanout(loadgen.FanoutConfig{Users: 5, Senders: 2, Msgs: 30, RunID: "w"}), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 5, "deliveries": 2 * 30 * 4, "expected": 240, "lost": 0, "reordered": 0})
}
