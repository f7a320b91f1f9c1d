package ircproto_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/ircproto"
	"hubbub/internal/lineproto"
	"hubbub/internal/tlsconf"
)

// tlsDoor is an IRC server behind TLS, as hubbub's irc-tls listener.
type tlsDoor struct {
	*lineproto.Server
	opts tlsconf.Options
}

func (d tlsDoor) Serve(ln net.Listener) error { return d.Server.Serve(tlsconf.NewListener(ln, d.opts)) }

// startTLS is start with the IRC door behind TLS (a self-signed certificate), whose slow
// readers' sockets hold little unsent (16 KB, the least: accept.UnsentLimit) and whose write
// timeout is short. It returns the servers and the configuration of a client that trusts
// the door.
func startTLS(t *testing.T) (*chatServers, lineproto.Config, *tls.Config) {
	t.Helper()
	lc := lineproto.DefaultConfig()
	lc.LineRate = 0
	lc.MaxQueue = 64 << 10
	lc.WriteTimeout = time.Second
	srv := chattest.StartChat(t, lc, chat.DefaultConfig(), nil)
	certFile, keyFile, _, err := tlsconf.SelfSigned(t.TempDir(), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certs, err := tlsconf.Load(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	irc := ircproto.NewServer(lc, srv.Hub, nil, slogTo(srv.Logs))
	irc.SetService("irc-tls")
	addr := chattest.Serve(t, tlsDoor{irc, tlsconf.Options{Config: certs.Config(), Service: "irc-tls"}})
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in " + certFile)
	}
	return &chatServers{Server: srv, IRC: addr}, lc, &tls.Config{ServerName: "localhost", RootCAs: roots}
}

// registerTLS connects to srv's IRC door over a slow link (chattest.SlowLinkDialer) at rate
// bytes a second, registers as nick and reads up to its join of #lobby.
func registerTLS(t *testing.T, srv *chatServers, tlsCfg *tls.Config, nick string, rate int) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	link, err := chattest.SlowLinkDialer(rate)(context.Background(), "tcp", srv.IRC)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(link, tlsCfg)
	t.Cleanup(func() { link.Close() })
	conn.SetDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(conn, "NICK "+nick+"\r\nUSER "+nick+" 0 * :"+nick+"\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("registering %s: %v", nick, err)
		}
		if strings.Contains(line, " 366 "+nick+" #lobby ") {
			return conn, r
		}
	}
}

// TestTLSSlowIRCReaderStays is lineproto's TestTLSSlowReaderStays on the IRC door over TLS:
// a client that reads 8 KB/s, steadily, while its channel floods stays connected and keeps
// getting lines for five write timeouts, where each TLS record, which takes two of them to
// drain at that pace, had a deadline of one from its start.
func TestTLSSlowIRCReaderStays(t *testing.T) {
	srv, lc, tlsCfg := startTLS(t)
	conn, r := registerTLS(t, srv, tlsCfg, "slow", 8<<10)
	flooder := chattest.Join(t, srv.Addr, "flooder")
	flooder.Conn.SetReadDeadline(time.Time{})

	stop := make(chan struct{})
	wait := chattest.Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)
	// What the client's kernel holds takes it seconds to read after a drop, so the server's
	// log says whether it was dropped.
	flooded := 0
	for end := time.Now().Add(5 * lc.WriteTimeout); time.Now().Before(end); {
		conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the slow reader was cut off: %v", err)
		}
		if strings.HasPrefix(line, ":flooder!") && strings.Contains(line, " PRIVMSG #lobby ") {
			flooded++
		}
	}
	if flooded == 0 {
		t.Fatal("the slow reader got no line of the flood")
	}
	srv.Logs.ExpectNoClose(t, "slow")
}

// TestTLSSilentIRCReaderDropped: an IRC client over TLS that reads nothing while its channel
// floods is closed for the write timeout.
func TestTLSSilentIRCReaderDropped(t *testing.T) {
	srv, _, tlsCfg := startTLS(t)
	registerTLS(t, srv, tlsCfg, "silent", 8<<10)
	flooder := chattest.Join(t, srv.Addr, "flooder")
	chattest.FloodUntilLogged(t, flooder, srv.Logs, "connection closed", "name=silent", `reason="write timeout"`)
}
