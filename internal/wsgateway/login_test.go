package wsgateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
	"hubbub/internal/password"
	"hubbub/internal/sqlite"
	"hubbub/internal/wsgateway"
)

// loginServer is a chat whose accounts and tokens are in a real SQLite file, with the
// WebSocket gateway, /login and /logout behind a real HTTP server, as cmd/hubbub wires them.
type loginServer struct {
	store *sqlite.Store
	clock *chattest.Clock
	base  string // http://127.0.0.1:PORT
	ws    string // ws://127.0.0.1:PORT/ws
	line  string // the line transport's address, for users on TCP
}

// operPassword is what /oper takes on the test servers.
const operPassword = "the operators' password"

func startLogin(t *testing.T, cfg wsgateway.Config) *loginServer {
	t.Helper()
	scfg := sqlite.DefaultConfig(filepath.Join(t.TempDir(), "hubbub.db"))
	scfg.RetainEvery = 0
	store, err := sqlite.Open(t.Context(), scfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := chattest.NewClock()
	chatCfg := chat.DefaultConfig()
	chatCfg.History, chatCfg.Bans, chatCfg.Accounts, chatCfg.Now = store, store, store, clk.Now
	chatCfg.OperPassword = operPassword
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chatCfg, nil)
	if err := srv.Hub.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	ws := wsgateway.NewServer(cfg, srv.Hub, nil, slog.New(slog.DiscardHandler))
	ws.SetTokens(store)
	mux := http.NewServeMux()
	mux.Handle("GET /ws", ws)
	mux.HandleFunc("POST /login", ws.ServeLogin)
	mux.HandleFunc("POST /logout", ws.ServeLogout)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := ws.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		hs.Close()
	})
	return &loginServer{store: store, clock: clk, base: hs.URL, ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws", line: srv.Addr}
}

// register makes the account name with pw through the store, as `hubbub account create` does.
func (s *loginServer) register(t *testing.T, name, pw string) {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.CreateAccount(t.Context(), chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

type answer struct {
	code   int
	body   string
	cookie string // the raw Set-Cookie header
	header http.Header
}

// post sends a form to path with the headers given (name: value pairs).
func (s *loginServer) post(t *testing.T, path string, form url.Values, headers ...string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.base)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{code: resp.StatusCode, body: strings.TrimSpace(string(body)), cookie: resp.Header.Get("Set-Cookie"), header: resp.Header}
}

func (s *loginServer) login(t *testing.T, name, pw string, headers ...string) answer {
	t.Helper()
	return s.post(t, "/login", url.Values{"name": {name}, "password": {pw}}, headers...)
}

// tokenOf returns the value of the session cookie a Set-Cookie header sets.
func tokenOf(t *testing.T, setCookie string) string {
	t.Helper()
	c, err := http.ParseSetCookie(setCookie)
	if err != nil || c.Name != wsgateway.CookieName || c.Value == "" {
		t.Fatalf("Set-Cookie %q: want the session cookie (%v)", setCookie, err)
	}
	return c.Value
}

// dialAs opens /ws with the session cookie holding token ("": none).
func (s *loginServer) dialAs(t *testing.T, token string) *client {
	t.Helper()
	h := http.Header{"Origin": {s.base}}
	if token != "" {
		h.Set("Cookie", wsgateway.CookieName+"="+token)
	}
	return dial(t, s.ws, &websocket.DialOptions{HTTPHeader: h})
}

// expectLoggedIn reads the events of entering as account with a cookie: welcomed, with no
// name prompt, and told the cookie logs in.
func expectLoggedIn(t *testing.T, c *client, account string) {
	t.Helper()
	welcomed := false
	for {
		raw, err := c.nextRaw()
		if err != nil {
			t.Fatalf("waiting for logged_in: %v", err)
		}
		var e event
		json.Unmarshal(raw, &e)
		switch e.Kind {
		case "prompt", "secret_prompt", "logged_out":
			t.Fatalf("got %s entering with a valid cookie", raw)
		case "welcome":
			if e.From != account {
				t.Fatalf("welcomed as %q, want %q", e.From, account)
			}
			welcomed = true
		case "logged_in":
			if !welcomed || e.From != account {
				t.Fatalf("got %s (welcomed before: %v), want logged_in as %s after the welcome", raw, welcomed, account)
			}
			return
		}
	}
}

// expectLoggedOut checks that the first event says the cookie logs in no more, and that the
// name prompt follows.
func expectLoggedOut(t *testing.T, c *client) {
	t.Helper()
	c.expectRaw("logged_out")
	c.expect(event{Kind: "prompt"})
}

// TestWebLogin: a wrong password or an unknown name gets the same 401; a second wrong try from
// the address is told to wait; the right one sets an HttpOnly, SameSite=Strict session cookie
// with which /ws enters as the account at once; /logout ends it; a token revoked by the store
// (the chat's /logout) ends too; a cookie logs in no more once the password is changed.
func TestWebLogin(t *testing.T) {
	s := startLogin(t, testConfig())
	s.register(t, "alice", "correct horse")

	wrong := s.login(t, "alice", "not the password")
	nobody := s.login(t, "zed", "not the password")
	for _, a := range []answer{wrong, nobody} {
		if a.code != http.StatusUnauthorized || a.body != `{"error":"wrong name or password"}` || a.cookie != "" {
			t.Errorf("wrong login: %d %s, cookie %q; want 401 wrong name or password, no cookie", a.code, a.body, a.cookie)
		}
	}
	// The same address again, even with the right password: it waits first.
	again := s.login(t, "alice", "correct horse")
	if again.code != http.StatusTooManyRequests || again.header.Get("Retry-After") != "1" ||
		!strings.Contains(again.body, "try again in 1 s") || again.cookie != "" {
		t.Errorf("second try: %d %s (Retry-After %q); want 429, wait 1 s", again.code, again.body, again.header.Get("Retry-After"))
	}
	s.clock.Add(2 * time.Second)

	ok := s.login(t, "alice", "correct horse")
	if ok.code != http.StatusNoContent {
		t.Fatalf("right password: %d %s, want 204", ok.code, ok.body)
	}
	for _, attr := range []string{"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=2592000"} {
		if !strings.Contains(ok.cookie, "; "+attr) {
			t.Errorf("Set-Cookie %q lacks %s", ok.cookie, attr)
		}
	}
	if strings.Contains(ok.cookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on plain HTTP without an https --public-url: the browser would drop it", ok.cookie)
	}
	token := tokenOf(t, ok.cookie)
	if strings.Contains(ok.cookie, "horse") {
		t.Error("the cookie holds the password")
	}

	// With the cookie: in as alice, no name prompt, and able to talk.
	alice := s.dialAs(t, token)
	expectLoggedIn(t, alice, "alice")
	// Without it, a guest: the prompt, and alice's name is not to be had.
	guest := s.dialAs(t, "")
	guest.expect(event{Kind: "prompt"})
	alice.ws.Close(websocket.StatusNormalClosure, "")

	// /logout ends the token and clears the cookie; the cookie no longer logs in.
	out := s.post(t, "/logout", nil, "Cookie", wsgateway.CookieName+"="+token)
	if out.code != http.StatusNoContent || !strings.Contains(out.cookie, "Max-Age=0") {
		t.Errorf("logout: %d %s, Set-Cookie %q; want 204 clearing the cookie", out.code, out.body, out.cookie)
	}
	expectLoggedOut(t, s.dialAs(t, token))

	// A token revoked by the store (the chat's /logout, /password, /unregister) logs in no more.
	token = tokenOf(t, s.login(t, "alice", "correct horse").cookie)
	expectLoggedIn(t, s.dialAs(t, token), "alice")
	if err := s.store.RevokeTokens(t.Context(), "alice", ""); err != nil {
		t.Fatal(err)
	}
	expectLoggedOut(t, s.dialAs(t, token))

	// A new password ends the cookie's session.
	token = tokenOf(t, s.login(t, "alice", "correct horse").cookie)
	hash, err := password.Hash("another horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.SetPassword(t.Context(), "alice", hash); err != nil {
		t.Fatal(err)
	}
	expectLoggedOut(t, s.dialAs(t, token))

	// A cookie that was never made is told as much, and is a guest.
	expectLoggedOut(t, s.dialAs(t, "made-up"))
}

// TestWebLoginRefusals: another site's page can neither log its visitor in nor out; a form
// too big, a password in the URL or a form of another type logs nobody in; a proxy's https
// makes the cookie Secure.
func TestWebLoginRefusals(t *testing.T) {
	cfg := testConfig()
	cfg.SecureCookies = true
	s := startLogin(t, cfg)
	s.register(t, "alice", "correct horse")

	evil := s.login(t, "alice", "correct horse", "Origin", "http://evil.example")
	if evil.code != http.StatusForbidden || evil.cookie != "" {
		t.Errorf("login from another site's page: %d %s, cookie %q; want 403 and no cookie", evil.code, evil.body, evil.cookie)
	}
	ok := s.login(t, "alice", "correct horse")
	if ok.code != http.StatusNoContent || !strings.Contains(ok.cookie, "; Secure") {
		t.Fatalf("login: %d, Set-Cookie %q; want 204 and a Secure cookie", ok.code, ok.cookie)
	}
	token := tokenOf(t, ok.cookie)
	evilOut := s.post(t, "/logout", nil, "Cookie", wsgateway.CookieName+"="+token, "Origin", "http://evil.example")
	if evilOut.code != http.StatusForbidden {
		t.Errorf("logout from another site's page: %d, want 403", evilOut.code)
	}
	expectLoggedIn(t, s.dialAs(t, token), "alice")

	big := s.post(t, "/login", url.Values{"name": {"alice"}, "password": {"correct horse"}, "pad": {strings.Repeat("x", 8<<10)}})
	if big.code != http.StatusRequestEntityTooLarge || big.cookie != "" {
		t.Errorf("an 8 KB form: %d %s, want 413", big.code, big.body)
	}
	inURL := s.post(t, "/login?name=alice&password=correct+horse", nil)
	if inURL.code != http.StatusUnauthorized || inURL.cookie != "" {
		t.Errorf("password in the URL: %d %s, want 401", inURL.code, inURL.body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", s.base+"/login", strings.NewReader(`{"name":"alice","password":"correct horse"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("a JSON body: %d, want 415", resp.StatusCode)
	}
}

// A banned name is refused before its password is checked, so a guess learns nothing.
func TestWebLoginBanned(t *testing.T) {
	s := startLogin(t, testConfig())
	s.register(t, "bob", "bob's password")
	op := chattest.Join(t, s.line, "op")
	op.Send("/oper " + operPassword)
	op.Expect("*** you are now an operator")
	op.Send("/ban B0B")
	op.Expect("*** banned the name B0B until /unban")
	for _, pw := range []string{"bob's password", "a wrong one"} {
		if a := s.login(t, "bob", pw); a.code != http.StatusForbidden || a.body != `{"error":"banned from this server"}` || a.cookie != "" {
			t.Errorf("banned login with %q: %d %s, cookie %q; want 403 banned from this server", pw, a.code, a.body, a.cookie)
		}
	}
}
