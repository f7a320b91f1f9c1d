package accept

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// A connection whose handler called Keep outlives its handler: it stays open and counted by
// the limits, Wait waits for it, and release closes it and gives its place back.
func TestKeep(t *testing.T) {
	released := make(chan func(), 1)
	var l *Loop
	l = New("test", NewLimiter(Limits{MaxConns: 1}, nil), slog.New(slog.DiscardHandler), func(c net.Conn) {
		released <- l.Keep(c)
		io.WriteString(c, "kept\r\n")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- l.Serve(ln) }()
	dial := func() (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		return c, bufio.NewReader(c)
	}
	_, first := dial()
	if line, err := first.ReadString('\n'); line != "kept\r\n" {
		t.Fatalf("first client got %q, %v", line, err)
	}
	release := <-released
	// The handler returned; the connection is still open and still counted.
	_, second := dial()
	if line, _ := second.ReadString('\n'); !strings.Contains(line, "server full") {
		t.Fatalf("second client got %q, want a refusal: the kept connection is not counted", line)
	}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); err == nil {
		t.Fatal("Wait returned with a kept connection not released")
	}
	release()
	release() // once is enough; again does nothing
	if rest, err := io.ReadAll(first); err != nil || len(rest) != 0 {
		t.Fatalf("after release, first client got %q, %v; want the end", rest, err)
	}
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
