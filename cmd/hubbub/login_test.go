package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/password"
)

// postLogin posts name and pw to the program's /login as a page of origin would.
func postLogin(t *testing.T, httpAddr, origin, name, pw string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+httpAddr+"/login",
		strings.NewReader(url.Values{"name": {name}, "password": {pw}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLoginWiring: the program serves /login with its accounts, and behind an https
// --public-url its page's origin may log in and gets a Secure cookie, with which /ws enters
// as the account; another site's page may not; without history (so without accounts) there
// is no /login.
func TestLoginWiring(t *testing.T) {
	m, addrs := startMain(t, func(c *Config) { c.PublicURL = "https://chat.example.com" })
	n, _ := chat.ParseName("alice")
	hash, err := password.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.history.CreateAccount(t.Context(), chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if resp := postLogin(t, addrs["http"], "https://evil.example.com", "alice", "correct horse"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login from another site: %d, want 403", resp.StatusCode)
	}
	resp := postLogin(t, addrs["http"], "https://chat.example.com", "alice", "correct horse")
	cookie := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(cookie, "; Secure") || !strings.Contains(cookie, "; HttpOnly") {
		t.Fatalf("login from the page: %d, Set-Cookie %q; want 204 and a Secure, HttpOnly cookie", resp.StatusCode, cookie)
	}
	token, _, _ := strings.Cut(cookie, ";")

	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	ws, up, err := websocket.Dial(ctx, "ws://"+addrs["http"]+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {"https://chat.example.com"}, "Cookie": {token}}})
	if err != nil {
		t.Fatal(err)
	}
	// The cookie's life in the browser starts again with each use, as the token's does.
	if again := up.Header.Get("Set-Cookie"); !strings.HasPrefix(again, token+";") || !strings.Contains(again, "; Max-Age=2592000") {
		t.Errorf("upgrade with the cookie: Set-Cookie %q, want the same cookie for another 30 days", again)
	}
	t.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	c := &wsClient{t: t, ws: ws}
	if e := c.next(); e.Kind != "welcome" || e.From != "alice" {
		t.Fatalf("first event %+v, want the welcome of alice", e)
	}

	_, off := startMain(t, func(c *Config) { c.NoHistory = true })
	if resp := postLogin(t, off["http"], "http://"+off["http"], "alice", "correct horse"); resp.StatusCode == http.StatusNoContent ||
		resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("login without accounts: %d, want a refusal", resp.StatusCode)
	}
}
