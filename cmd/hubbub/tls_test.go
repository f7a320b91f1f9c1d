package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"hubbub/internal/chattest"
	"hubbub/internal/tlsconf"
)

// startTLSMain runs hubbub in-process like startMain, with its TLS listeners on ephemeral
// ports, and returns its logs too.
func startTLSMain(t *testing.T, change func(*Config)) (*Main, map[string]string, *chattest.Logs) {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.ChatAddr, cfg.QuoteAddr, cfg.EchoAddr, cfg.HTTPAddr = "127.0.0.1:0", "", "", "127.0.0.1:0"
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.IRCAddr = "127.0.0.1:0"
	cfg.TLS.ChatAddr, cfg.TLS.IRCAddr, cfg.TLS.HTTPSAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Line.LineRate = 0
	if change != nil {
		change(&cfg)
	}
	logs := &chattest.Logs{}
	m := &Main{cfg: cfg, log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		m.Shutdown(ctx)
		if t.Failed() {
			t.Logf("hubbub logs:\n%s", logs)
		}
	})
	addrs := map[string]string{}
	for _, l := range m.listeners() {
		if addr := m.Addr(l.name); addr != "" {
			addrs[l.name] = addr
		}
	}
	return m, addrs, logs
}

// writeCert writes a certificate for 127.0.0.1 with serial, valid from notBefore to notAfter,
// and its key, to certFile and keyFile.
func writeCert(t *testing.T, certFile, keyFile string, serial int64, notBefore, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "hubbub test"},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// trusting returns a client configuration that trusts the certificate in certFile only.
func trusting(t *testing.T, certFile string) *tls.Config {
	t.Helper()
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificate in %s", certFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// tlsUser is a chat user over TLS.
type tlsUser struct {
	t    *testing.T
	conn *tls.Conn
	r    *bufio.Reader
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tlsUser {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: chattest.Timeout}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsUser{t: t, conn: c, r: bufio.NewReader(c)}
}

func (u *tlsUser) send(line string) {
	u.t.Helper()
	u.conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(u.conn, line+"\r\n"); err != nil {
		u.t.Fatalf("send %q: %v", line, err)
	}
}

// expect reads lines until one is want.
func (u *tlsUser) expect(want string) {
	u.t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	for {
		line, err := u.r.ReadString('\n')
		if err != nil {
			u.t.Fatalf("waiting for %q: %v", want, err)
		}
		if strings.TrimRight(line, "\r\n") == want {
			return
		}
	}
}

func (u *tlsUser) serial() int64 {
	return u.conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestChatOverTLS: with --tls-self-signed, a user on the TLS chat listener, whose client
// checks the certificate against the one made in the data directory, chats with an nc user
// on the plain listener, both ways.
func TestChatOverTLS(t *testing.T) {
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	alice := dialTLS(t, addrs["chat-tls"], trusting(t, filepath.Join(m.cfg.DataDir, tlsconf.SelfSignedCert)))
	alice.expect("What's your name?")
	alice.send("alice")
	alice.expect("Welcome, alice!")
	bob := chattest.Join(t, addrs["chat"], "bob")
	alice.expect("bob has joined the channel")
	alice.send("hello from TLS")
	bob.Expect("<alice> hello from TLS")
	bob.Send("hello from nc")
	alice.expect("<bob> hello from nc")
}

// TestChatTLSWithOpenSSL: openssl s_client, as a user would run it, registers and chats with
// an nc user.
func TestChatTLSWithOpenSSL(t *testing.T) {
	_, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	stdin, expect := openSSL(t, addrs["chat-tls"])
	expect("What's your name?")
	io.WriteString(stdin, "carol\n")
	expect("Welcome, carol!")
	bob := chattest.Join(t, addrs["chat"], "bob")
	expect("bob has joined the channel")
	io.WriteString(stdin, "hi from openssl\n")
	bob.Expect("<carol> hi from openssl")
	bob.Send("hi carol")
	expect("<bob> hi carol")
}

// TestHTTPSPageAndWSS: the HTTPS listener serves the page to a client that checks the
// self-signed certificate, and a WebSocket over wss:// chats with an nc user.
func TestHTTPSPageAndWSS(t *testing.T) {
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	client := &http.Client{Timeout: chattest.Timeout, Transport: &http.Transport{
		TLSClientConfig: trusting(t, filepath.Join(m.cfg.DataDir, tlsconf.SelfSignedCert))}}
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Get("https://" + addrs["https"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
		t.Fatalf("GET / over HTTPS: %d\n%s", resp.StatusCode, page)
	}

	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+addrs["https"]+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	dora := &webUser{t: t, ctx: ctx, ws: ws}
	dora.expect(`"kind":"prompt"`)
	dora.send("dora")
	dora.expect(`"kind":"welcome"`, `"from":"dora"`)
	bob := chattest.Join(t, addrs["chat"], "bob")
	dora.send("hello over wss")
	bob.Expect("<dora> hello over wss")
	bob.Send("hello dora")
	dora.expect(`"from":"bob"`, `"text":"hello dora"`)
}

var addrRE = regexp.MustCompile(`addr=(\S+)`)

// TestTLSCertificateReloadOnSIGHUP: new certificate files and SIGHUP: a connection made before
// keeps chatting, a new one gets the new certificate (by its serial number). Files that do not
// load at the next SIGHUP leave the new certificate in use, and the log says why.
func TestTLSCertificateReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	now := time.Now()
	writeCert(t, certFile, keyFile, 1001, now.Add(-time.Hour), now.Add(24*time.Hour))
	p := startProc(t, "", "--tls-cert", certFile, "--tls-key", keyFile, "--chat-tls-addr", "127.0.0.1:0", "--irc-tls-addr", "", "--https-addr", "")
	addr := addrRE.FindStringSubmatch(p.logs.WaitFor(t, "msg=listening", "service=chat-tls"))[1]
	p.logs.WaitFor(t, "msg=\"tls certificate\"", "cert="+certFile)
	client := &tls.Config{InsecureSkipVerify: true}

	before := dialTLS(t, addr, client)
	before.send("alice")
	before.expect("Welcome, alice!")
	if s := before.serial(); s != 1001 {
		t.Fatalf("serial %d, want 1001", s)
	}

	writeCert(t, certFile, keyFile, 1002, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.logs.WaitFor(t, "msg=reloaded", "applied=tls-cert")
	after := dialTLS(t, addr, client)
	if s := after.serial(); s != 1002 {
		t.Fatalf("serial %d after reload, want 1002", s)
	}
	after.send("bob")
	after.expect("Welcome, bob!")
	before.expect("bob has joined the channel")
	before.send("still here")
	after.expect("<alice> still here")

	// A key that is not the certificate's: refused, and the certificate of before stays.
	writeCert(t, certFile, filepath.Join(dir, "other-key.pem"), 1003, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.logs.WaitFor(t, "level=ERROR", "TLS certificate does not load", "not the key of the certificate")
	p.logs.WaitFor(t, "level=WARN", "msg=reloaded", "failed=tls-cert")
	if s := dialTLS(t, addr, client).serial(); s != 1002 {
		t.Fatalf("serial %d after a failed reload, want 1002 still", s)
	}
}

// TestTLSStartupErrors: a certificate that cannot be served stops the start with an error
// naming the file and what to do; so do TLS settings that do not go together.
func TestTLSStartupErrors(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	good, goodKey := filepath.Join(dir, "good.pem"), filepath.Join(dir, "good.key")
	writeCert(t, good, goodKey, 1, now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredKey := filepath.Join(dir, "expired.pem"), filepath.Join(dir, "expired.key")
	writeCert(t, expired, expiredKey, 2, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	otherKey := filepath.Join(dir, "other.key")
	writeCert(t, filepath.Join(dir, "other.pem"), otherKey, 3, now.Add(-time.Hour), now.Add(time.Hour))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name, cert, key string
		want            []string
	}{
		{"expired", expired, expiredKey, []string{"--tls-cert " + expired, "expired on", "renew it"}},
		{"mismatched", good, otherKey, []string{"--tls-key " + otherKey, "not the key of the certificate in " + good}},
		{"missing", missing, goodKey, []string{"--tls-cert " + missing, "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.DataDir = t.TempDir()
			cfg.ChatAddr, cfg.QuoteAddr, cfg.EchoAddr, cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "", "", "", ""
			cfg.TLS.Cert, cfg.TLS.Key = tc.cert, tc.key
			cfg.TLS.ChatAddr, cfg.TLS.IRCAddr, cfg.TLS.HTTPSAddr = "127.0.0.1:0", "", ""
			m := &Main{cfg: cfg, log: slog.New(slog.DiscardHandler)}
			err := m.Run()
			if err == nil {
				m.Shutdown(context.Background())
				t.Fatal("started")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--chat-tls-addr", ":9999"}, "--chat-tls-addr needs a certificate"},
		{[]string{"--irc-tls-addr", ":9998"}, "--irc-tls-addr needs a certificate"},
		{[]string{"--tls-cert", good}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-self-signed", "--tls-cert", good, "--tls-key", goodKey}, "--tls-self-signed makes its own certificate"},
	} {
		_, err := parseConfig(tc.args, func(string) (string, bool) { return "", false }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestTLSHandshakeTimeout: a client that connects to each TLS listener and never handshakes
// holds its address's one connection (the limits apply before the handshake) until the
// handshake timeout, is then disconnected and counted, and the next client gets in.
func TestTLSHandshakeTimeout(t *testing.T) {
	_, addrs, _ := startTLSMain(t, func(c *Config) {
		c.TLS.SelfSigned = true
		c.TLS.HandshakeTimeout = 500 * time.Millisecond
		c.MaxConnsPerIP, c.LimitExempt = 1, ""
	})
	client := &tls.Config{InsecureSkipVerify: true}
	for _, service := range []string{"chat-tls", "irc-tls", "https"} {
		silent, err := net.Dial("tcp", addrs[service])
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		// Held by the silent client: this one is refused before any handshake.
		if c, err := tls.DialWithDialer(&net.Dialer{Timeout: chattest.Timeout}, "tcp", addrs[service], client); err == nil {
			c.Close()
			t.Fatalf("%s: a second connection from one address was let in", service)
		}
		silent.SetReadDeadline(time.Now().Add(chattest.Timeout))
		if n, err := silent.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%s: the silent client read %d bytes", service, n)
		}
		waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
			`hubbub_tls_handshake_failures_total{reason="timeout",service="` + service + `"}`: 1,
			`hubbub_connections_refused_total{reason="per_ip",service="` + service + `"}`:     1,
		})
		// Its slot is free again. (The server counts a closed connection just after closing
		// it: wait until the new client is let in.)
		chattest.WaitFor(t, service+" lets a new client in", func() bool {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: chattest.Timeout}, "tcp", addrs[service], client)
			if err != nil {
				return false
			}
			c.Close()
			return true
		})
		// That client is gone before the next listener's turn: the limit is over all of them.
		waitMetrics(t, "http://"+addrs["admin"], map[string]float64{`hubbub_connections_open{service="` + service + `"}`: 0})
	}
}

// TestPlainTextOnTLSPorts: plain-text clients on the TLS listeners are told what the port
// speaks, counted, and not logged one by one.
func TestPlainTextOnTLSPorts(t *testing.T) {
	_, addrs, logs := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	for _, tc := range []struct{ service, send, want string }{
		{"chat-tls", "alice\r\n", plainToChatTLS},
		{"irc-tls", "NICK alice\r\n", plainToIRCTLS},
		{"https", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "This port speaks HTTPS"},
	} {
		for range 3 {
			c, err := net.Dial("tcp", addrs[tc.service])
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, tc.send)
			c.SetReadDeadline(time.Now().Add(chattest.Timeout))
			got, _ := io.ReadAll(c)
			c.Close()
			if !strings.Contains(string(got), tc.want) {
				t.Fatalf("%s: plain-text client got %q, want %q", tc.service, got, tc.want)
			}
		}
	}
	waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
		`hubbub_tls_handshake_failures_total{reason="not_tls",service="chat-tls"}`: 3,
		`hubbub_tls_handshake_failures_total{reason="not_tls",service="irc-tls"}`:  3,
		`hubbub_tls_handshake_failures_total{reason="not_tls",service="https"}`:    3,
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "msg=listening") {
			continue
		}
		for _, w := range []string{"handshake", "service=chat-tls", "service=irc-tls", "service=https", "record", "remote="} {
			if strings.Contains(line, w) {
				t.Errorf("logged: %s", line)
			}
		}
	}
}

// TestSelfSignedReusedOnSecondStart: the first start makes the certificate and says where it
// is and its fingerprint; the second start with the same data directory serves the same one.
func TestSelfSignedReusedOnSecondStart(t *testing.T) {
	dataDir := t.TempDir()
	start := func() (string, *chattest.Logs) {
		m, addrs, logs := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true; c.DataDir = dataDir })
		c := dialTLS(t, addrs["chat-tls"], &tls.Config{InsecureSkipVerify: true})
		c.expect("What's your name?")
		fp := tlsconf.Fingerprint(c.conn.ConnectionState().PeerCertificates[0])
		logs.WaitFor(t, `msg="tls certificate"`, "cert="+filepath.Join(dataDir, tlsconf.SelfSignedCert), "sha256="+fp)
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		return fp, logs
	}
	first, logs := start()
	logs.WaitFor(t, "made a self-signed TLS certificate", "key="+filepath.Join(dataDir, tlsconf.SelfSignedKey))
	st, err := os.Stat(filepath.Join(dataDir, tlsconf.SelfSignedKey))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	second, logs := start()
	if second != first {
		t.Fatalf("second start serves %s, first served %s", second, first)
	}
	if strings.Contains(logs.String(), "made a self-signed") {
		t.Fatal("the second start made a new certificate")
	}
}

// TestBrowserOverHTTPS: Chromium, told to accept the self-signed certificate, loads the page
// over HTTPS; the page connects over wss:// and chats with an nc user.
func TestBrowserOverHTTPS(t *testing.T) {
	ctx := chromium(t, chromedp.Flag("ignore-certificate-errors", true))
	_, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	nc := chattest.Join(t, addrs["chat"], "termy")
	err := chromedp.Do(ctx,
		chromedp.Navigate("https://"+addrs["https"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		typeInto("#name", "secure\n"),
		waitText("#status", "connected as secure"),
	)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	nc.Expect("secure has joined the channel")
	nc.Send("hello over wss")
	if err := chromedp.Do(ctx, waitText("#log", "hello over wss"), typeInto("#say", "hi from https\n")); err != nil {
		t.Fatalf("chat: %v", err)
	}
	nc.Expect("<secure> hi from https")
	proto, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.protocol`))
	if err != nil || proto != "https:" {
		t.Fatalf("page protocol %q, %v", proto, err)
	}
}

// TestChatTLSShutdown: at shutdown a TLS chat user is told, as a plain one is, and the
// connection then ends with TLS's close_notify (a clean EOF, not a truncation).
func TestChatTLSShutdown(t *testing.T) {
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	alice := dialTLS(t, addrs["chat-tls"], &tls.Config{InsecureSkipVerify: true})
	alice.send("alice")
	alice.expect("Welcome, alice!")
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		stopped <- m.Shutdown(ctx)
	}()
	alice.expect("*** server shutting down")
	alice.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	if rest, err := io.ReadAll(alice.r); err != nil {
		t.Fatalf("after the notice: %q, %v (want a clean end)", rest, err)
	}
	alice.conn.Close() // as a client does at the end
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// dialTLSFrom is dialTLS from the local address ip (any of 127.0.0.0/8 on Linux).
func dialTLSFrom(t *testing.T, ip, addr string, cfg *tls.Config) *tlsUser {
	t.Helper()
	d := &net.Dialer{Timeout: chattest.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("tls dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsUser{t: t, conn: c, r: bufio.NewReader(c)}
}

// until reads lines until one contains want, and returns it.
func (u *tlsUser) until(want string) string {
	u.t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	for {
		line, err := u.r.ReadString('\n')
		if err != nil {
			u.t.Fatalf("waiting for a line with %q: %v", want, err)
		}
		if strings.Contains(line, want) {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

// TestTLSUsersKeepTheirAddresses: the chat sees each TLS user's own address, so that a ban
// of one address refuses the TLS user from it and not one from another address. (Relayed
// over loopback, both were 127.0.0.1 to the chat: neither was refused.)
func TestTLSUsersKeepTheirAddresses(t *testing.T) {
	_, addrs, _ := startTLSMain(t, func(c *Config) {
		c.TLS.SelfSigned = true
		c.Chat.OperPassword = "hunter2"
	})
	client := &tls.Config{InsecureSkipVerify: true}
	oper := chattest.Join(t, addrs["chat"], "olga")
	oper.Send("/oper hunter2")
	oper.Expect("*** you are now an operator")
	oper.Send("/ban 127.0.0.3 1h")
	oper.Expect("*** banned 127.0.0.3/32 for 1h0m0s")

	for _, service := range []string{"chat-tls", "irc-tls"} {
		banned := dialTLSFrom(t, "127.0.0.3", addrs[service], client)
		if service == "irc-tls" {
			banned.send("NICK mallory")
			banned.send("USER mallory 0 * :Mallory")
		}
		banned.until("you are banned from this server")
		banned.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
		if rest, err := io.ReadAll(banned.r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%s: the banned user's connection did not end: %q, %v", service, rest, err)
		}
	}

	other := dialTLSFrom(t, "127.0.0.2", addrs["chat-tls"], client)
	other.expect("What's your name?")
	other.send("erin")
	other.expect("Welcome, erin!")
	oper.Expect("erin has joined the channel")
	ircOther := dialTLSFrom(t, "127.0.0.2", addrs["irc-tls"], client)
	ircOther.send("NICK frank")
	ircOther.send("USER frank 0 * :Frank")
	ircOther.until(" 001 frank ")
	oper.Expect("frank has joined the channel")
}

// TestIRCOverTLS: Go's TLS client, checking the self-signed certificate, registers over
// IRC-TLS and talks with an nc user both ways, in public and in private.
func TestIRCOverTLS(t *testing.T) {
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	dave := dialTLS(t, addrs["irc-tls"], trusting(t, filepath.Join(m.cfg.DataDir, tlsconf.SelfSignedCert)))
	dave.send("CAP LS 302")
	dave.send("NICK dave")
	dave.send("USER dave 0 * :Dave")
	dave.send("CAP END")
	dave.until(" 001 dave ")
	dave.until(" JOIN #lobby")
	bob := chattest.Join(t, addrs["chat"], "bob")
	dave.until(":bob!")
	dave.send("PRIVMSG #lobby :hello from IRC over TLS")
	bob.Expect("<dave> hello from IRC over TLS")
	bob.Send("hi dave")
	dave.until(" PRIVMSG #lobby :hi dave")
	bob.Send("/msg dave psst")
	dave.until(" PRIVMSG dave :psst")
	dave.send("QUIT :bye")
	readUntil(t, bob, "dave has left the channel. (quit: bye)")
}

// openSSL runs openssl s_client against addr as a user would, and returns its standard input
// and a function that waits for a line its output shows that contains a text.
func openSSL(t *testing.T, addr string) (io.Writer, func(want string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*chattest.Timeout)
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-quiet", "-connect", addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("openssl (installed by .ci/run): %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return stdin, func(want string) {
		t.Helper()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("openssl ended before a line with %q", want)
				}
				if strings.Contains(line, want) {
					return
				}
			case <-time.After(chattest.Timeout):
				t.Fatalf("openssl never showed a line with %q", want)
			}
		}
	}
}

// TestIRCTLSWithOpenSSL: openssl s_client registers over IRC-TLS by hand and talks with an
// nc user.
func TestIRCTLSWithOpenSSL(t *testing.T) {
	_, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	stdin, expect := openSSL(t, addrs["irc-tls"])
	io.WriteString(stdin, "NICK carol\r\nUSER carol 0 * :Carol\r\n")
	expect(" 001 carol ")
	expect(" JOIN #lobby")
	bob := chattest.Join(t, addrs["chat"], "bob")
	expect(":bob!")
	io.WriteString(stdin, "PRIVMSG #lobby :hi from openssl\r\n")
	bob.Expect("<carol> hi from openssl")
	bob.Send("hi carol")
	expect(" PRIVMSG #lobby :hi carol")
}

// TestSlowTLSReaderDropped: a TLS user (lines, then IRC) that stops reading while the room
// talks is disconnected once its connection takes nothing for --write-timeout, by the
// writer of its own; meanwhile an nc user in the room gets every line, in order, as it comes.
func TestSlowTLSReaderDropped(t *testing.T) {
	for _, service := range []string{"chat-tls", "irc-tls"} {
		t.Run(service, func(t *testing.T) {
			_, addrs, logs := startTLSMain(t, func(c *Config) {
				c.TLS.SelfSigned = true
				c.Line.WriteTimeout = 500 * time.Millisecond
			})
			// A small receive buffer, so that the kernels fill up within a few hundred KB.
			d := &net.Dialer{Timeout: chattest.Timeout, Control: func(_, _ string, raw syscall.RawConn) error {
				return raw.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			}}
			c, err := tls.DialWithDialer(d, "tcp", addrs[service], &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			victim := &tlsUser{t: t, conn: c, r: bufio.NewReader(c)}
			if service == "irc-tls" {
				victim.send("NICK victim")
				victim.send("USER victim 0 * :Victim")
				victim.until(" 001 victim ")
			} else {
				victim.send("victim")
				victim.expect("Welcome, victim!")
			}
			watcher := chattest.Join(t, addrs["chat"], "watcher")
			talker := chattest.Join(t, addrs["chat"], "talker")
			watcher.Expect("talker has joined the channel")
			// victim reads no more from here.

			filler := strings.Repeat("t", 1000)
			closed := func() bool {
				return strings.Contains(logs.String(), "name=victim") && strings.Contains(logs.String(), `reason="write timeout"`)
			}
			next := 0
			for batch := 0; batch < 200 && !closed(); batch++ {
				var b strings.Builder
				for i := range 100 {
					fmt.Fprintf(&b, "%d %s\n", batch*100+i, filler)
				}
				talker.Write(b.String())
				for range 100 {
					line := watcher.ReadLine()
					if strings.HasPrefix(line, "victim has left") {
						line = watcher.ReadLine()
					}
					var n int
					if _, err := fmt.Sscanf(line, "<talker> %d", &n); err != nil || n != next {
						t.Fatalf("watcher got %.60q, want line %d", line, next)
					}
					next++
				}
			}
			logs.WaitFor(t, "connection closed", "service="+service, "name=victim", `reason="write timeout"`)
			// The victim finds its connection cut once it reads what the kernels held.
			victim.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
			if _, err := io.Copy(io.Discard, victim.r); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatal("the victim's connection is still open")
			}
		})
	}
}

// TestTLSRefusalsCountedAsRejected: clients that refuse the self-signed certificate, as their
// users run them (openssl s_client -verify_return_error, curl without -k, Python's ssl, Go's
// client), over TLS 1.3 and 1.2, are each counted as rejected on their listener, none as a
// protocol failure.
func TestTLSRefusalsCountedAsRejected(t *testing.T) {
	for _, tool := range []string{"openssl", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs it)", tool)
		}
	}
	_, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	refuse := func(name string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err == nil {
			t.Fatalf("%s accepted the self-signed certificate:\n%s", name, out)
		}
		t.Logf("%s: %.200s", name, strings.TrimSpace(string(out)))
	}
	refuse("openssl", "s_client", "-verify_return_error", "-tls1_3", "-connect", addrs["chat-tls"])
	refuse("openssl", "s_client", "-verify_return_error", "-tls1_2", "-connect", addrs["chat-tls"])
	refuse("curl", "-sS", "--max-time", "20", "https://"+addrs["https"]+"/")
	host, port := splitAddr(t, addrs["irc-tls"])
	refuse("python3", "-c", `import socket, ssl, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
ssl.create_default_context().wrap_socket(s, server_hostname="localhost")`, host, port)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cfg := &tls.Config{MinVersion: version, MaxVersion: version, ServerName: "localhost", RootCAs: x509.NewCertPool()}
		if c, err := tls.DialWithDialer(&net.Dialer{Timeout: chattest.Timeout}, "tcp", addrs["irc-tls"], cfg); err == nil {
			c.Close()
			t.Fatal("Go's client accepted a certificate it does not trust")
		}
	}
	failures := func(service, reason string) string {
		return `hubbub_tls_handshake_failures_total{reason="` + reason + `",service="` + service + `"}`
	}
	page := waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
		failures("chat-tls", "rejected"): 2,
		failures("https", "rejected"):    1,
		failures("irc-tls", "rejected"):  3,
	})
	for _, service := range []string{"chat-tls", "https", "irc-tls"} {
		if v, ok := metricValue(page, failures(service, "protocol")); ok && v != 0 {
			t.Errorf("%s: %v handshakes counted as protocol failures", service, v)
		}
	}
}
