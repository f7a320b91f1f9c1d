package wsgateway_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/wsgateway"
)

// startTLSGateway is startGateway behind HTTPS: its browsers' connections are TLS streams,
// written by a writer of their own. It returns the gateway (a wss:// URL) and the TLS
// configuration that trusts it.
func startTLSGateway(t *testing.T, cfg wsgateway.Config) (gateway, *tls.Config) {
	t.Helper()
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	line.MaxQueue = 64 << 20
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	logs := &chattest.Logs{}
	ws := wsgateway.NewServer(cfg, srv.Hub, nil, slog.New(slog.NewTextHandler(logs, nil)))
	hs := httptest.NewTLSServer(ws)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := ws.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	tlsCfg := hs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return gateway{lineAddr: srv.Addr, url: "wss" + strings.TrimPrefix(hs.URL, "https"), logs: logs}, tlsCfg
}

// dialOver opens a WebSocket to url (wss://, trusted by tlsCfg) over a connection over makes.
func dialOver(t *testing.T, url string, tlsCfg *tls.Config, over func(ctx context.Context, network, addr string) (net.Conn, error)) *client {
	t.Helper()
	tr := &http.Transport{DialContext: over, TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	return dial(t, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
}

// tlsSlowConfig is a gateway whose slow readers' sockets hold little unsent (16 KB, the
// least: accept.UnsentLimit) and whose write timeout is short, so that a test sees many.
func tlsSlowConfig() wsgateway.Config {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = time.Second
	return cfg
}

// TestTLSSlowReaderStays is lineproto's TestTLSSlowReaderStays over wss://: a browser whose
// link takes 8 KB/s, steadily, while its room floods stays connected and keeps getting
// frames for five write timeouts. Each TLS record the gateway wrote had a deadline of
// WriteTimeout from its start, and takes two of them to drain at that pace.
func TestTLSSlowReaderStays(t *testing.T) {
	cfg := tlsSlowConfig()
	g, tlsCfg := startTLSGateway(t, cfg)
	slow := dialOver(t, g.url, tlsCfg, chattest.SlowLinkDialer(8<<10))
	slow.register("slow")
	flooder := chattest.Join(t, g.lineAddr, "flooder")
	flooder.Conn.SetReadDeadline(time.Time{})

	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)
	// What the client's kernel holds takes it a while to read after a drop, so the
	// gateway's log says whether it was dropped.
	flooded := 0
	for end := time.Now().Add(5 * cfg.WriteTimeout); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 3*chattest.Timeout)
		_, b, err := slow.ws.Read(ctx) // a message of up to 64 KiB: seconds at this pace
		cancel()
		if err != nil {
			t.Fatalf("the slow reader was cut off: %v\n%s", err, g.logs)
		}
		if strings.Contains(string(b), `"from":"flooder"`) {
			flooded++
		}
	}
	if flooded == 0 {
		t.Fatal("the slow reader got no line of the flood")
	}
	g.logs.ExpectNoClose(t, "slow")
}

// TestTLSSilentReaderDropped: a browser over wss:// that reads nothing while its room floods
// is closed for the write timeout: the deadline moves on only while its socket drains.
func TestTLSSilentReaderDropped(t *testing.T) {
	g, tlsCfg := startTLSGateway(t, tlsSlowConfig())
	silent := dialOver(t, g.url, tlsCfg, chattest.SlowLinkDialer(8<<10))
	silent.register("silent")
	flooder := chattest.Join(t, g.lineAddr, "flooder")
	chattest.FloodUntilLogged(t, flooder, g.logs, "connection closed", "name=silent", `reason="write timeout"`)
}
