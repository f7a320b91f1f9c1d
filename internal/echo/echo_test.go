package echo_test

import (
	"bytes"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"hubbub/internal/chattest"
	"hubbub/internal/echo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const timeout = 10 * time.Second

func start(t *testing.T, cfg echo.Config) string {
	t.Helper()
	return chattest.Serve(t, echo.NewServer(cfg, nil, slog.New(slog.DiscardHandler)))
}

func TestEcho(t *testing.T) {
	addr := start(t, echo.DefaultConfig())
	tests := []struct {
		name string
		data []byte
	}{
		{"original client", []byte("Hello ,world!")},
		{"binary", []byte{0, 0xff, 0xfe, '\r', '\n', 0x1b}},
		{"4 MB", randomBytes(4 << 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(timeout))
			// Write and read at once: the server's buffer is far smaller than the data.
			written := make(chan error, 1)
			go func() {
				_, err := c.Write(tt.data)
				written <- err
			}()
			got := make([]byte, len(tt.data))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			if err := <-written; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, tt.data) {
				t.Error("echoed bytes differ from those sent")
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	addr := start(t, echo.Config{IdleTimeout: 50 * time.Millisecond})
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

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{})
	r.Read(b)
	return b
}

// TestIdleTimeoutCountsFromLastActivity keeps a client busy for several idle timeouts, then
// silent: it is served all along, and disconnected no sooner than the idle timeout after its
// last echo came back.
func TestIdleTimeoutCountsFromLastActivity(t *testing.T) {
	const idle = 300 * time.Millisecond
	addr := start(t, echo.Config{IdleTimeout: idle})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	pace := time.NewTicker(idle / 30)
	defer pace.Stop()
	var last time.Time
	for end := time.Now().Add(4 * idle); time.Now().Before(end); {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("write: %v", err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("busy client disconnected: %v", err)
		}
		last = time.Now()
		<-pace.C // a busy client: something well inside each idle timeout
	}
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read = %d, %v; want EOF after the idle timeout", n, err)
	}
	if gap := time.Since(last); gap < idle {
		t.Errorf("disconnected %v after the last echo, before the idle timeout (%v)", gap, idle)
	}
}
