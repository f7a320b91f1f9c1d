package wsgateway_test

import (
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// promptly is how soon a slow reader in a flooded room must be told it missed lines, and get
// the answer to a command it sent during the flood: seconds, where the kernel's autotuned send
// buffer (megabytes) held its backlog for minutes.
const promptly = 5 * time.Second

// TestSlowBrowserAnsweredPromptly is lineproto's TestSlowReaderAnsweredPromptly on the
// WebSocket door: a browser that reads steadily but slower than its room talks is told within
// seconds that it missed lines, and its /whois sent during the flood is answered within
// seconds, not after the megabytes the kernel would otherwise hold for it.
func TestSlowBrowserAnsweredPromptly(t *testing.T) {
	cfg := testConfig()
	cfg.MaxQueue = 64 << 10
	cfg.WriteTimeout = 20 * time.Second
	g := startGateway(t, chat.DefaultConfig(), cfg) // the kernel's send buffers as the server sets them

	slow := dialSmallWindow(t, g.url)
	slow.register("slow")
	flooder := chattest.Join(t, g.lineAddr, "flooder")
	slow.expect(event{Kind: "join", From: "flooder"})
	flooder.Conn.SetReadDeadline(time.Time{})

	stop := make(chan struct{})
	ask := make(chan struct{})
	begun := time.Now()
	// After a second of the flood the reader asks who the flooder is, from this goroutine: the
	// client's test helpers are not safe for concurrent use.
	wait := chattest.Flood(t, flooder.Conn, stop, func() { close(ask) })
	defer wait()
	defer close(stop)

	slow.rate = 64 << 10
	var askedAt, toldAt, answeredAt time.Time
	var last event
	for toldAt.IsZero() || answeredAt.IsZero() {
		if askedAt.IsZero() {
			select {
			case <-ask:
				// From this goroutine: the client's writes and reads may overlap, but
				// its test helpers are not safe for concurrent use.
				slow.send("/whois flooder")
				askedAt = time.Now()
			default:
			}
		}
		now := time.Now()
		if toldAt.IsZero() && now.Sub(begun) > promptly {
			t.Fatalf("not told of lines skipped %v after the flood began (the last event read: %.80v)", now.Sub(begun).Round(time.Millisecond), last)
		}
		if !askedAt.IsZero() && answeredAt.IsZero() && now.Sub(askedAt) > promptly {
			t.Fatalf("no answer %v after /whois was sent (the last event read: %.80v)", now.Sub(askedAt).Round(time.Millisecond), last)
		}
		e, err := slow.next()
		if err != nil {
			t.Fatalf("the slow reader: %v", err)
		}
		last = e
		switch {
		case toldAt.IsZero() && e.Kind == "notice" && skippedNotice.MatchString(e.Text):
			toldAt = time.Now()
		case answeredAt.IsZero() && !askedAt.IsZero() && e.Kind == "notice" && strings.HasPrefix(e.Text, "flooder: in #lobby, online"):
			answeredAt = time.Now()
		}
	}
	t.Logf("told of lines skipped %v after the flood began; answered %v after asking",
		toldAt.Sub(begun).Round(time.Millisecond), answeredAt.Sub(askedAt).Round(time.Millisecond))
}
