package accept

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPerIPCountsIPv6ByPrefix admits, in order, connections from the addresses given, with at
// most one per client: which are refused depends on how IPv6 addresses are grouped.
func TestPerIPCountsIPv6ByPrefix(t *testing.T) {
	tests := []struct {
		name    string
		prefix  int
		addrs   []string
		refused []bool
	}{
		{"default groups a /64", 0,
			[]string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1"},
			[]bool{false, true, false}},
		{"/48", 48,
			[]string{"2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:2::1"},
			[]bool{false, true, false}},
		{"/128 counts each address", 128,
			[]string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::1"},
			[]bool{false, false, true}},
		{"IPv4 counts each address", 0,
			[]string{"192.0.2.1", "192.0.2.2", "192.0.2.1"},
			[]bool{false, false, true}},
		{"exempt prefix", 0,
			[]string{"fd00::1", "fd00::2", "fd00::1"},
			[]bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(Limits{MaxConnsPerIP: 1, IPv6Prefix: tt.prefix,
				Exempt: []netip.Prefix{netip.MustParsePrefix("fd00::/8")}}, nil)
			for i, a := range tt.addrs {
				_, _, refusal := l.acquire(netip.MustParseAddr(a))
				if got := refusal != ""; got != tt.refused[i] {
					t.Errorf("%s: refused %v (%q), want %v", a, got, refusal, tt.refused[i])
				}
			}
		})
	}
}

// TestReleaseAfterPrefixChange uncounts a connection as the client it was counted as, even
// when a reload changed the prefix in between.
func TestReleaseAfterPrefixChange(t *testing.T) {
	l := NewLimiter(Limits{MaxConnsPerIP: 1}, nil)
	key, _, refusal := l.acquire(netip.MustParseAddr("2001:db8::1"))
	if refusal != "" {
		t.Fatal(refusal)
	}
	l.SetLimits(Limits{MaxConnsPerIP: 1, IPv6Prefix: 128})
	l.release(key)
	if _, _, refusal := l.acquire(netip.MustParseAddr("2001:db8::1")); refusal != "" {
		t.Fatalf("after release: %s", refusal)
	}
	if l.open != 1 || len(l.perIP) != 1 {
		t.Errorf("open %d, clients %v; want one", l.open, l.perIP)
	}
}

// TestListenerOverIPv6Loopback serves HTTP through a Listener on [::1] with one connection
// per client: a second connection is answered 503 and closed, and once the first closes a new
// one is served.
func TestListenerOverIPv6Loopback(t *testing.T) {
	inner, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	limiter := NewLimiter(Limits{MaxConnsPerIP: 1}, nil)
	ln := NewHTTPListener(inner, "http", limiter, slog.New(slog.DiscardHandler))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	addr := ln.Addr().String()

	get := func(c net.Conn) string {
		t.Helper()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err.Error()
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.Status + " " + strings.TrimSpace(string(body))
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first := dial()
	if got := get(first); got != "200 OK ok" {
		t.Fatalf("first connection: %s", got)
	}
	if got := get(dial()); got != "503 Service Unavailable too many connections from your address (max 1)" {
		t.Fatalf("second connection from ::1: %s", got)
	}
	first.Close()
	// The server notices the close on its own goroutine: ask again until it has.
	deadline := time.After(10 * time.Second)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for got := get(dial()); got != "200 OK ok"; got = get(dial()) {
		select {
		case <-deadline:
			t.Fatalf("still refused after the first connection closed: %s", got)
		case <-poll.C:
		}
	}
}
