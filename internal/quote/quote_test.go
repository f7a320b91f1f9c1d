package quote_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chattest"
	"hubbub/internal/quote"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const timeout = 10 * time.Second

func start(t *testing.T, cfg quote.Config) string {
	t.Helper()
	return chattest.Serve(t, quote.NewServer(cfg, nil, slog.New(slog.DiscardHandler)))
}

// ask does what the original client does: connect, write the quote with no newline, read the
// answer, close.
func ask(addr, q string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, q); err != nil {
		return "", err
	}
	answer, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read answer to %q: %w", q, err)
	}
	return strings.TrimSuffix(answer, "\r\n"), nil
}

func TestOriginalClient(t *testing.T) {
	addr := start(t, quote.DefaultConfig())
	for _, tt := range []struct{ send, want string }{
		{"asdasda", "Truth never dies"},
		{"asdasqwerwertwert", "asdasda"},
		{"third", "asdasqwerwertwert"},
	} {
		got, err := ask(addr, tt.send)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("sent %q, got %q, want %q", tt.send, got, tt.want)
		}
	}
}

func TestLineClient(t *testing.T) {
	cfg := quote.DefaultConfig()
	cfg.MaxQuote = 10
	addr := start(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	steps := []struct{ send, want string }{
		{"one\n", "Truth never dies"},
		{"two\r\n", "one"},
		{"\n  \n\x1b[31mred\x1b[0m \u202eflip\n", "two"},
		{"0123456789abcdef\n", "red flip"},
		{"x\n", "0123456789"},
		{"caf\u00e9\u00e9\u00e9\u00e9\n", "x"}, // 12 bytes, cut to 10 without splitting é
		{"y\n", "caf\u00e9\u00e9\u00e9"},
	}
	for _, st := range steps {
		io.WriteString(c, st.send)
		got, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", st.send, err)
		}
		if got != st.want+"\r\n" {
			t.Errorf("sent %q, got %q, want %q", st.send, got, st.want)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	cfg := quote.DefaultConfig()
	cfg.IdleTimeout = 50 * time.Millisecond
	addr := start(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read = %d, %v; want EOF after the idle timeout", n, err)
	}
}

// TestExactlyOnce has thousands of clients swap quotes at once: every quote, the first one
// included, is handed to exactly one later client, or is the one left at the end.
func TestExactlyOnce(t *testing.T) {
	addr := start(t, quote.DefaultConfig())
	const clients = 2500
	answers := make([]string, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	startAll := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-startAll
			a, err := ask(addr, fmt.Sprintf("quote-%d", i))
			if err != nil {
				errs <- err
			}
			answers[i] = a
		})
	}
	close(startAll)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	last, err := ask(addr, "final")
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{last: 1}
	for _, a := range answers {
		seen[a]++
	}
	want := []string{"Truth never dies"}
	for i := range clients {
		want = append(want, fmt.Sprintf("quote-%d", i))
	}
	for _, q := range want {
		if seen[q] != 1 {
			t.Errorf("quote %q handed out %d times, want once", q, seen[q])
		}
		delete(seen, q)
	}
	for q, n := range seen {
		t.Errorf("unexpected answer %q (%d times)", q, n)
	}
}

// TestIdleTimeoutCountsFromLastActivity keeps a line client busy for several idle timeouts,
// then silent: it is answered all along, and disconnected no sooner than the idle timeout
// after its last answer came.
func TestIdleTimeoutCountsFromLastActivity(t *testing.T) {
	cfg := quote.DefaultConfig()
	cfg.IdleTimeout = 300 * time.Millisecond
	addr := start(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	r := bufio.NewReader(c)
	pace := time.NewTicker(cfg.IdleTimeout / 30)
	defer pace.Stop()
	var last time.Time
	for end := time.Now().Add(4 * cfg.IdleTimeout); time.Now().Before(end); {
		if _, err := io.WriteString(c, "q\n"); err != nil {
			t.Fatalf("write: %v", err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("busy client disconnected: %v", err)
		}
		last = time.Now()
		<-pace.C // a busy client: something well inside each idle timeout
	}
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read = %d, %v; want EOF after the idle timeout", n, err)
	}
	if gap := time.Since(last); gap < cfg.IdleTimeout {
		t.Errorf("disconnected %v after the last answer, before the idle timeout (%v)", gap, cfg.IdleTimeout)
	}
}
