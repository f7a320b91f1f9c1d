package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
	"hubbub/internal/metrics"
	"hubbub/internal/tlsconf"
)

// startServicesOverTLS runs hubbub with quote and echo on plain and TLS listeners and the admin
// listener over HTTPS, and returns the listeners' addresses and a client configuration that
// trusts the self-signed certificate it made.
func startServicesOverTLS(t *testing.T) (map[string]string, *http.Client) {
	t.Helper()
	m, addrs, _ := startTLSMain(t, func(c *Config) {
		c.TLS.SelfSigned = true
		c.QuoteAddr, c.EchoAddr = "127.0.0.1:0", "127.0.0.1:0"
		c.TLS.QuoteAddr, c.TLS.EchoAddr = "127.0.0.1:0", "127.0.0.1:0"
		c.TLS.Admin = true
	})
	client := &http.Client{Timeout: chattest.Timeout, Transport: &http.Transport{
		TLSClientConfig: trusting(t, filepath.Join(m.cfg.DataDir, tlsconf.SelfSignedCert))}}
	t.Cleanup(client.CloseIdleConnections)
	return addrs, client
}

// TestQuoteEchoAndAdminOverTLS: with a certificate, the quote and echo services and the admin
// listener are served encrypted to Go's TLS client checking the certificate: quote over TLS
// hands out the same quotes as the plain listener, echo echoes, the admin listener answers
// /healthz and /metrics over HTTPS; a plain-text client of each is told what the port speaks.
func TestQuoteEchoAndAdminOverTLS(t *testing.T) {
	addrs, client := startServicesOverTLS(t)
	trust := client.Transport.(*http.Transport).TLSClientConfig

	quote := dialTLS(t, addrs["quote-tls"], trust)
	quote.send("the medium is the message")
	quote.expect("Truth never dies")
	plain := chattest.Dial(t, addrs["quote"])
	plain.Send("plain words")
	plain.Expect("the medium is the message")
	quote.send("again")
	quote.expect("plain words")

	echo := dialTLS(t, addrs["echo-tls"], trust)
	echo.send("ping over tls")
	echo.expect("ping over tls")

	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "hubbub_connections_open"} {
		resp, err := client.Get("https://" + addrs["admin"] + path)
		if err != nil {
			t.Fatalf("GET %s over HTTPS: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s over HTTPS: %d %q, want 200 with %q", path, resp.StatusCode, body, want)
		}
	}

	for _, tc := range []struct{ service, send, want string }{
		{"quote-tls", "hello\r\n", plainToServiceTLS},
		{"echo-tls", "hello\r\n", plainToServiceTLS},
		{"admin", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "This port speaks HTTPS"},
	} {
		c, err := net.Dial("tcp", addrs[tc.service])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.send)
		c.SetReadDeadline(time.Now().Add(chattest.Timeout))
		got, _ := io.ReadAll(c)
		c.Close()
		if !strings.Contains(string(got), tc.want) {
			t.Errorf("%s: plain-text client got %q, want %q", tc.service, got, tc.want)
		}
	}
}

// TestQuoteEchoAndAdminWithOpenSSL: openssl s_client, as a user would run it, gets a quote,
// an echo and the admin listener's health over TLS.
func TestQuoteEchoAndAdminWithOpenSSL(t *testing.T) {
	addrs, _ := startServicesOverTLS(t)
	for _, tc := range []struct{ service, send, want string }{
		{"quote-tls", "a quote from openssl\n", "Truth never dies"},
		{"echo-tls", "echoed by openssl\n", "echoed by openssl"},
		{"admin", "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.0 200 OK"},
	} {
		stdin, expect := openSSL(t, addrs[tc.service])
		io.WriteString(stdin, tc.send)
		expect(tc.want)
	}
}

// TestServicesTLSNeedACertificate: asking for quote, echo or admin over TLS without a
// certificate stops the start with an error that says what to give.
func TestServicesTLSNeedACertificate(t *testing.T) {
	for _, args := range [][]string{
		{"--quote-tls-addr", ":9001"},
		{"--echo-tls-addr", ":8017"},
		{"--admin-tls"},
	} {
		_, err := parseConfig(args, func(string) (string, bool) { return "", false }, io.Discard)
		want := args[0] + " needs a certificate: give --tls-cert and --tls-key, or --tls-self-signed"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", args, err, want)
		}
	}
}

// An echo over TLS answers as the plain one does to a line without a line end: bytes as they
// come, not held for a newline.
func TestEchoOverTLSPartialLine(t *testing.T) {
	addrs, client := startServicesOverTLS(t)
	u := dialTLS(t, addrs["echo-tls"], client.Transport.(*http.Transport).TLSClientConfig)
	u.conn.SetWriteDeadline(time.Now().Add(chattest.Timeout))
	io.WriteString(u.conn, "no newline")
	u.conn.SetReadDeadline(time.Now().Add(chattest.Timeout))
	got := make([]byte, len("no newline"))
	if _, err := io.ReadFull(u.r, got); err != nil || string(got) != "no newline" {
		t.Fatalf("echo over TLS: %q, %v", got, err)
	}
}

// TestEveryListenerHasItsMetricsLabel: each listener's connections and handshake failures are
// counted under its own name (quote-tls and echo-tls were counted as "other": the tryout).
func TestEveryListenerHasItsMetricsLabel(t *testing.T) {
	for _, l := range (&Main{cfg: defaultConfig()}).listeners() {
		if !metrics.IsService(l.name) {
			t.Errorf("listener %q is counted as %q in the metrics", l.name, metrics.Other)
		}
	}
	addrs, client := startServicesOverTLS(t)
	quote := dialTLS(t, addrs["quote-tls"], client.Transport.(*http.Transport).TLSClientConfig)
	quote.send("counted")
	quote.expect("Truth never dies")
	resp, err := client.Get("https://" + addrs["admin"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `hubbub_connections_open{service="quote-tls"} 1`; !strings.Contains(string(page), want) {
		t.Errorf("metrics do not show %s", want)
	}
}
