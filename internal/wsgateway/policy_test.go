package wsgateway_test

import (
	"maps"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/metrics"
	"hubbub/internal/wsgateway"
)

// TestPingInterval has a browser that stops reading, so that it answers no ping
// (--ws-ping-interval): it is dropped, and the log says why in the words of every transport.
func TestPingInterval(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 200 * time.Millisecond
	g := startGateway(t, chat.DefaultConfig(), cfg)
	c := dial(t, g.url, nil)
	c.register("gone")
	// The client reads no more: the library answers pings only while it reads.
	g.logs.WaitFor(t, "connection closed", "service=ws", "name=gone", `reason="ping timeout"`)
}

// TestCloseReasonsCounted holds the WebSocket to the line transport's closed set of close
// reasons: each end is reported to the Observer, which counts it by reason, and a kick's
// reason text, which the page is shown, never becomes a label.
func TestCloseReasonsCounted(t *testing.T) {
	cfg := testConfig()
	cfg.RegisterTimeout = 300 * time.Millisecond
	chatCfg := chat.DefaultConfig()
	chatCfg.OperPassword = "secret"
	m := metrics.New()
	g := startGateway(t, chatCfg, cfg, func(s *wsgateway.Server) { s.SetObserver(m.Line()) })

	quitter := dial(t, g.url, nil)
	quitter.register("quitter")
	quitter.send("/quit")
	quitter.closed()

	idle := dial(t, g.url, nil)
	idle.expect(event{Kind: "prompt"})
	idle.closed()

	kicked := dial(t, g.url, nil)
	kicked.register("kicked")
	op := chattest.Join(t, g.lineAddr, "op")
	op.Send("/oper secret")
	op.Expect("*** you are now an operator")
	op.Send("/kick kicked you said \x1b[31msomething\" } evil")
	kicked.closed()

	for _, reason := range []string{"reason=quit", `reason="register timeout"`, "reason=kicked"} {
		g.logs.WaitFor(t, "connection closed", "service=ws", reason) // logged after it is counted
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "hubbub_chat_connections_closed_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				got[l.GetValue()] = metric.GetCounter().GetValue()
			}
		}
	}
	if want := map[string]float64{"quit": 1, "register timeout": 1, "kicked": 1}; !maps.Equal(got, want) {
		t.Errorf("closes counted by reason %v, want %v", got, want)
	}
}
