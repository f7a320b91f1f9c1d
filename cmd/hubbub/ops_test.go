package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/chattest"
)

// webConn is a raw HTTP/1.1 client connection from a chosen loopback address, so that tests
// see exactly what each connection gets and when it is closed.
type webConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWeb(t *testing.T, from, addr string) *webConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: chattest.Timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &webConn{t: t, c: c, br: bufio.NewReader(c)}
}

// get sends one keep-alive request and returns the status and body, or an error text when
// there is no answer.
func (w *webConn) get(path string) (int, string) {
	w.t.Helper()
	w.c.SetDeadline(time.Now().Add(chattest.Timeout))
	if _, err := io.WriteString(w.c, "GET "+path+" HTTP/1.1\r\nHost: hubbub\r\n\r\n"); err != nil {
		return 0, err.Error()
	}
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// closedByServer reports whether the server closes the connection (EOF or reset) before the
// test's deadline.
func (w *webConn) closedByServer() bool {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(chattest.Timeout))
	_, err := w.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestHTTPIdleConnectionsClosed: a keep-alive connection that asked for one page and then sat
// idle is closed after --http-idle-timeout, and no longer counts.
func TestHTTPIdleConnectionsClosed(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) { c.HTTPIdleTimeout = 200 * time.Millisecond })
	w := dialWeb(t, "127.0.0.1", addrs["http"])
	if code, body := w.get("/healthz"); code != 200 {
		t.Fatalf("GET /healthz = %d %q", code, body)
	}
	if !w.closedByServer() {
		t.Fatal("an idle keep-alive connection stayed open")
	}
	waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
		`hubbub_connections_accepted_total{service="http"}`: 1,
		`hubbub_connections_open{service="http"}`:           0,
	})
}

// TestHTTPConnectionsCountAgainstLimits: HTTP connections count against --max-conns-per-ip
// (over it: a 503 saying why) and --max-conns like chat connections, so one address cannot
// hold more than its share, and chat users from elsewhere still get in.
func TestHTTPConnectionsCountAgainstLimits(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) {
		c.MaxConns, c.MaxConnsPerIP, c.LimitExempt = 6, 2, ""
	})
	for i := range 6 { // the first two stay open: dialWeb's cleanup holds them
		w := dialWeb(t, "127.0.0.7", addrs["http"])
		code, body := w.get("/healthz")
		switch {
		case i < 2 && code == 200:
		case i >= 2 && code == 503 && body == "too many connections from your address (max 2)":
			if !w.closedByServer() {
				t.Errorf("refused connection %d left open", i)
			}
		default:
			t.Fatalf("HTTP connection %d from one address: %d %q", i, code, body)
		}
	}
	alice := chattest.DialFrom(t, "127.0.0.8", addrs["chat"])
	alice.Register("alice")
	bob := chattest.DialFrom(t, "127.0.0.9", addrs["chat"])
	bob.Register("bob")
	alice.Expect("bob has joined the channel")

	// 2 held + 2 chat users: two more of any kind fill the server.
	for _, from := range []string{"127.0.0.10", "127.0.0.11"} {
		if code, body := dialWeb(t, from, addrs["http"]).get("/"); code != 200 {
			t.Fatalf("GET / from %s: %d %q", from, code, body)
		}
	}
	if code, body := dialWeb(t, "127.0.0.12", addrs["http"]).get("/healthz"); code != 503 || !strings.HasPrefix(body, "server full (6 connections)") {
		t.Errorf("HTTP connection past --max-conns: %d %q, want 503 server full", code, body)
	}
	chattest.DialFrom(t, "127.0.0.13", addrs["chat"]).Expect("*** server full (6 connections), try again later")
	waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
		`hubbub_connections_open{service="http"}`:                          4,
		`hubbub_connections_refused_total{reason="per_ip",service="http"}`: 4,
		`hubbub_connections_refused_total{reason="full",service="http"}`:   1,
		`hubbub_connections_refused_total{reason="full",service="chat"}`:   1,
	})
}

// TestWebSocketOutlivesHTTPTimeouts: --http-timeout bounds requests, not the WebSocket, which
// goes on talking long after it.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) {
		c.HTTPTimeout, c.HTTPIdleTimeout = 200*time.Millisecond, 200*time.Millisecond
	})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addrs["http"]+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"line","text":"webby"}`)); err != nil {
		t.Fatal(err)
	}
	termy := chattest.Join(t, addrs["chat"], "termy")
	<-time.After(time.Second) // well past both timeouts
	termy.Send("still there?")
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("the WebSocket ended: %v", err)
		}
		if strings.Contains(string(b), "still there?") {
			break
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"line","text":"yes"}`)); err != nil {
		t.Fatal(err)
	}
	// (webby may have registered after termy joined: then termy heard of it first.)
	readUntil(t, termy, "<webby> yes")
}

// TestAdminListener: /metrics and pprof are on the admin listener only; the health checks on
// both; the admin listener is on loopback unless told otherwise, and "" switches it off.
func TestAdminListener(t *testing.T) {
	if addr := defaultConfig().AdminAddr; addr != "127.0.0.1:9090" {
		t.Errorf("default --admin-addr %q, want 127.0.0.1:9090", addr)
	}
	_, addrs := startMain(t, func(c *Config) { c.PProf = true })
	for _, tt := range []struct {
		listener, path string
		want           int
	}{
		{"http", "/metrics", 404}, {"admin", "/metrics", 200},
		{"http", "/debug/pprof/", 404}, {"admin", "/debug/pprof/", 200},
		{"http", "/healthz", 200}, {"admin", "/healthz", 200},
		{"http", "/readyz", 200}, {"admin", "/readyz", 200},
		{"http", "/", 200}, {"admin", "/", 404},
	} {
		if code, body := get(t, "http://"+addrs[tt.listener]+tt.path); code != tt.want {
			t.Errorf("%s listener: GET %s = %d %.40q, want %d", tt.listener, tt.path, code, body, tt.want)
		}
	}

	m, addrs := startMain(t, func(c *Config) { c.AdminAddr = "" })
	if m.Addr("admin") != "" || addrs["admin"] != "" {
		t.Errorf("--admin-addr \"\" still serves admin at %q", addrs["admin"])
	}
	if code, _ := get(t, "http://"+addrs["http"]+"/metrics"); code != 404 {
		t.Errorf("GET /metrics on the public listener = %d, want 404", code)
	}
}

// TestPublicURLOrigin: pages from --public-url's host may open /ws; others may not.
func TestPublicURLOrigin(t *testing.T) {
	dial := func(addr, origin string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err == nil {
			ws.CloseNow()
		}
		if resp == nil {
			t.Fatalf("origin %s: %v", origin, err)
		}
		return resp.StatusCode
	}
	_, addrs := startMain(t, func(c *Config) {
		c.PublicURL = "https://Chat.Example.com"
		c.WSOrigins = "*.example.org"
	})
	for origin, want := range map[string]int{
		"https://chat.example.com": http.StatusSwitchingProtocols,
		"https://www.example.org":  http.StatusSwitchingProtocols,
		"https://evil.example.net": http.StatusForbidden,
	} {
		if got := dial(addrs["http"], origin); got != want {
			t.Errorf("origin %s: %d, want %d", origin, got, want)
		}
	}
	_, addrs = startMain(t, nil)
	if got := dial(addrs["http"], "https://chat.example.com"); got != http.StatusForbidden {
		t.Errorf("origin https://chat.example.com without --public-url: %d, want 403", got)
	}
}

// TestKickReasonIsNotALabel: an operator kicks with a long hostile reason; the metrics say
// only "kicked".
func TestKickReasonIsNotALabel(t *testing.T) {
	_, addrs := startMain(t, func(c *Config) { c.Chat.OperPassword = "sesame" })
	opx := chattest.Join(t, addrs["chat"], "opx")
	opx.Send("/oper sesame")
	opx.Expect("*** you are now an operator")
	bob := chattest.Join(t, addrs["chat"], "bob")
	opx.Expect("bob has joined the channel")
	reason := `you said something"} evil_total{x="` + strings.Repeat("very long ", 30)
	opx.Send("/kick bob " + reason)
	bob.ExpectClosed()
	page := waitMetrics(t, "http://"+addrs["admin"], map[string]float64{
		`hubbub_chat_connections_closed_total{reason="kicked"}`: 1,
	})
	if strings.Contains(page, "you said") || strings.Contains(page, "evil_total") {
		t.Errorf("the kick reason reached /metrics:\n%s", page)
	}
}

// TestBadFlagsSayWhatToDo: an error is one line and a pointer to --help, and a value that does
// not parse names the flag, the value and the form wanted, wherever it was set.
func TestBadFlagsSayWhatToDo(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "hubbub.toml")
	if err := os.WriteFile(conf, []byte("line-rate = \"fast\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		env   string
		first string
	}{
		{[]string{"--no-such-flag"}, "", "hubbub: unknown flag --no-such-flag"},
		{[]string{"--write-timeout", "10"}, "", `hubbub: --write-timeout "10": want a duration such as 10s, 500ms or 1m30s`},
		{[]string{"--max-conns=lots"}, "", `hubbub: --max-conns "lots": want a whole number such as 32`},
		{[]string{"--pprof=maybe"}, "", `hubbub: --pprof "maybe": want true or false`},
		{[]string{"--chat-addr"}, "", "hubbub: --chat-addr needs a value"},
		{[]string{"config", "--config", conf}, "", `hubbub: config ` + conf + `: line-rate = "fast": want a number such as 2.5`},
		{nil, "HUBBUB_WRITE_TIMEOUT=10", `hubbub: HUBBUB_WRITE_TIMEOUT="10": want a duration such as 10s, 500ms or 1m30s`},
		{[]string{"--public-url", "chat.example.com"}, "", `hubbub: --public-url "chat.example.com": want the page's address, such as https://chat.example.com`},
		{[]string{"--ipv6-prefix", "0"}, "", "hubbub: --ipv6-prefix must be from 1 to 128 bits, not 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append(tt.args, tt.env), " "), func(t *testing.T) {
			if tt.env != "" {
				k, v, _ := strings.Cut(tt.env, "=")
				t.Setenv(k, v)
			}
			var out, errs strings.Builder
			if code := run(tt.args, &out, &errs); code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSuffix(errs.String(), "\n"), "\n")
			if len(lines) != 2 || lines[0] != tt.first || !strings.Contains(lines[1], "hubbub --help") {
				t.Errorf("stderr:\n%s\nwant two lines: %q and a pointer to hubbub --help", errs.String(), tt.first)
			}
		})
	}
}

// TestHelpAndReadmeWords: --http-addr's help names what it serves, and the README says how to
// build a binary that knows its revision.
func TestHelpAndReadmeWords(t *testing.T) {
	var help strings.Builder
	run([]string{"--help"}, &help, io.Discard)
	for _, want := range []string{"web page", "/ws", "/metrics"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "go build -buildvcs=true -o hubbub ./cmd/hubbub") {
		t.Error("README.md does not say how to build a binary with its revision")
	}
	var out strings.Builder
	run([]string{"config"}, &out, io.Discard)
	for _, want := range []string{`admin-addr = "127.0.0.1:9090"`, "ipv6-prefix = 64", `http-idle-timeout = "30s"`, `pid-file = ""`, `public-url = ""`} {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("hubbub config lacks %s", want)
		}
	}
}

// TestPIDFile: the first log line names the process, the PID file holds it while the server
// runs, and is gone after it exits.
func TestPIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hubbub.pid")
	p := startProc(t, "", "--pid-file", path)
	pid := strconv.Itoa(p.cmd.Process.Pid)
	first, _, _ := strings.Cut(p.logs.String(), "\n")
	if !strings.Contains(first, "msg=starting") || !strings.Contains(first, "pid="+pid+" ") {
		t.Errorf("first log line %q does not give pid=%s", first, pid)
	}
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != pid {
		t.Fatalf("pid file: %q, %v; want %s", data, err, pid)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after exit: %v", err)
	}
}

// TestAdminListenerNamedOnly: the admin listener answers requests that name it by address,
// localhost or this machine's name, and not a page's own name pointed at it (DNS rebinding);
// pprof's command line has the operator password masked; no other site may frame the page.
func TestAdminListenerNamedOnly(t *testing.T) {
	args := os.Args
	os.Args = append(slices.Clone(args), "--oper-password", "s3cret", "--oper-password=s3cret2")
	t.Cleanup(func() { os.Args = args })
	_, addrs := startMain(t, func(c *Config) { c.PProf = true })
	_, port, _ := net.SplitHostPort(addrs["admin"])
	hostname, _ := os.Hostname()
	for _, tt := range []struct {
		host string
		want int
	}{
		{addrs["admin"], 200},
		{"localhost:" + port, 200},
		{hostname + ":" + port, 200},
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost.attacker.example", http.StatusMisdirectedRequest},
	} {
		req, err := http.NewRequest("GET", "http://"+addrs["admin"]+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = tt.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("Host %q: %d, want %d", tt.host, resp.StatusCode, tt.want)
		}
	}
	if _, body := get(t, "http://"+addrs["admin"]+"/debug/pprof/cmdline"); strings.Contains(body, "s3cret") ||
		strings.Count(body, "********") != 2 {
		t.Errorf("pprof's command line: %q", body)
	}
	resp, err := http.Get("http://" + addrs["http"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("the page may be framed: %q", resp.Header)
	}
}
