package tlsconf

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"hubbub/internal/accept"
)

// echoService echoes what each connection sends, as a Service on an accept loop.
type echoService struct{ loop *accept.Loop }

func newEchoService() *echoService {
	return &echoService{loop: accept.New("inner", nil, slog.New(slog.DiscardHandler), func(c net.Conn) { io.Copy(c, c) })}
}

func (s *echoService) Serve(ln net.Listener) error        { return s.loop.Serve(ln) }
func (s *echoService) Shutdown(ctx context.Context) error { return s.loop.Stop(ctx) }

// TestBridgeRelaysOnlyItsClients: a TLS client is relayed to the service behind the bridge; a
// local process that connects to the service's loopback port directly is turned away.
func TestBridgeRelaysOnlyItsClients(t *testing.T) {
	certFile, keyFile := writePair(t, t.TempDir(), "c", time.Now().Add(-time.Hour), 48*time.Hour)
	certs, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBridge(newEchoService(), Options{Config: certs.Config(), Service: "test"}, nil, 10*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- b.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	})

	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "through the bridge\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "through the bridge\n" {
		t.Fatalf("relayed %q, %v", line, err)
	}

	stranger, err := net.Dial("tcp", b.innerLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	stranger.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(stranger, "around the bridge\n")
	if got, _ := io.ReadAll(stranger); len(got) > 0 {
		t.Fatalf("a direct connection to the service was served: %q", got)
	}
}
