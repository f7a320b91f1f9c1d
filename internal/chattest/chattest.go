// Package chattest starts real chat servers on 127.0.0.1:0 for tests and talks to them over
// real TCP connections, line by line, with deadlines.
package chattest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/lineproto"
	"hubbub/internal/sqlite"
)

// Timeout bounds every wait of a test client.
const Timeout = 10 * time.Second

// Server is a chat hub with a line transport listening on 127.0.0.1.
type Server struct {
	Addr string
	Hub  *chat.Hub
	Line *lineproto.Server
	Logs *Logs
}

// Start starts a server with cfg and no connection limits, and shuts it down when the test
// ends. Each setup function is called with the server before it starts serving.
func Start(t testing.TB, cfg lineproto.Config, setup ...func(*lineproto.Server)) *Server {
	t.Helper()
	return StartLimited(t, cfg, nil, setup...)
}

// StartLimited is Start with connection limits.
func StartLimited(t testing.TB, cfg lineproto.Config, limiter *accept.Limiter, setup ...func(*lineproto.Server)) *Server {
	t.Helper()
	return StartChat(t, cfg, chat.DefaultConfig(), limiter, setup...)
}

// StartChat is Start with a chat configuration and connection limits (nil: none).
func StartChat(t testing.TB, cfg lineproto.Config, chatCfg chat.Config, limiter *accept.Limiter, setup ...func(*lineproto.Server)) *Server {
	t.Helper()
	logs := &Logs{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub := chat.NewHub(chatCfg, log)
	srv := lineproto.NewServer(cfg, hub, limiter, log)
	for _, f := range setup {
		f(srv)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	addr := Serve(t, srv)
	return &Server{Addr: addr, Hub: hub, Line: srv, Logs: logs}
}

// StartOnClock runs a chat with cfg over the real line transport, with no line rate, on a
// clock that the test moves.
func StartOnClock(t testing.TB, cfg chat.Config) (*Server, *Clock) {
	t.Helper()
	clk := NewClock()
	cfg.Now = clk.Now
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	return StartChat(t, line, cfg, nil), clk
}

// StoreConfig is the configuration of a store in a new SQLite file in the test's temporary
// directory, where retention runs only when the test calls Retain.
func StoreConfig(t testing.TB) sqlite.Config {
	cfg := sqlite.DefaultConfig(filepath.Join(t.TempDir(), "hubbub.db"))
	cfg.RetainEvery = 0
	return cfg
}

// Service is what every hubbub server offers: serve a listener until shut down.
type Service interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// Serve serves s on 127.0.0.1:0 until the test ends, and returns its address. The test fails
// if Serve returns an error or Shutdown does not finish within Timeout.
func Serve(t testing.TB, s Service) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// Logs collects a server's log output for a test to look at.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitFor waits until the logs contain every one of parts on one line, and returns that line.
func (l *Logs) WaitFor(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		for _, line := range strings.Split(l.String(), "\n") {
			if containsAll(line, parts) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q in:\n%s", parts, l.String())
		}
		waitBriefly()
	}
}

// ExpectNoClose fails the test if the logs say the connection of the user called name ended.
func (l *Logs) ExpectNoClose(t testing.TB, name string) {
	t.Helper()
	for _, line := range strings.Split(l.String(), "\n") {
		if containsAll(line, []string{"connection closed", "name=" + name}) {
			t.Fatalf("%s's connection ended: %s", name, line)
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitBriefly yields between polls of something the test cannot be notified of.
func waitBriefly() { <-time.After(5 * time.Millisecond) }

// WaitFor waits until ok is true, for what can only be polled (a cluster's view of who is
// online, which travels through a key-value bucket); the test fails after Timeout.
func WaitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	WaitWithin(t, Timeout, what, ok)
}

// WaitWithin is WaitFor with a deadline of d: for what takes longer on a loaded machine, such
// as a JetStream cluster electing its leaders.
func WaitWithin(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		waitBriefly()
	}
}

// Client is one test connection.
type Client struct {
	t    testing.TB
	Conn net.Conn
	r    *bufio.Reader
}

// Dial connects to addr and closes the connection when the test ends.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{t: t, Conn: conn, r: bufio.NewReader(conn)}
}

// DialFrom connects to addr from the local address ip (any of 127.0.0.0/8 works on Linux).
func DialFrom(t testing.TB, ip, addr string) *Client {
	t.Helper()
	d := net.Dialer{Timeout: Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{t: t, Conn: conn, r: bufio.NewReader(conn)}
}

// Write sends raw bytes.
func (c *Client) Write(raw string) {
	c.t.Helper()
	c.Conn.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c.Conn, raw); err != nil {
		c.t.Fatalf("write %q: %v", raw, err)
	}
}

// Send sends line with a CR LF line end.
func (c *Client) Send(line string) {
	c.t.Helper()
	c.Write(line + "\r\n")
}

// ReadLine returns the next line without its CR LF, failing the test after Timeout.
func (c *Client) ReadLine() string {
	c.t.Helper()
	line, err := c.TryReadLine(Timeout)
	if err != nil {
		c.t.Fatalf("read line: %v", err)
	}
	return line
}

// TryReadLine returns the next line, or an error when none comes within d.
func (c *Client) TryReadLine(d time.Duration) (string, error) {
	c.Conn.SetReadDeadline(time.Now().Add(d))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return line, errors.New("line does not end in CR LF: " + line)
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}

// Expect fails the test unless the next lines are want, in order.
func (c *Client) Expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.ReadLine(); got != w {
			c.t.Fatalf("got line %q, want %q", got, w)
		}
	}
}

// ExpectSilence fails the test if a line arrives within d.
func (c *Client) ExpectSilence(d time.Duration) {
	c.t.Helper()
	if line, err := c.TryReadLine(d); err == nil || line != "" {
		c.t.Fatalf("got %q (err %v), want nothing", line, err)
	}
}

// ExpectClosed fails the test unless the server closes the connection, and then closes the
// client's side as telnet and nc do. It returns what was received before the end.
func (c *Client) ExpectClosed() string {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(Timeout))
	rest, err := io.ReadAll(c.r)
	c.Conn.Close()
	if err != nil && !isReset(err) {
		c.t.Fatalf("want the connection closed, got %v after %q", err, rest)
	}
	return string(rest)
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// Register answers the name prompt with name and expects the welcome.
func (c *Client) Register(name string) {
	c.t.Helper()
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect("Welcome, " + name + "!")
}

// Join dials addr and registers as name.
func Join(t testing.TB, addr, name string) *Client {
	t.Helper()
	c := Dial(t, addr)
	c.Register(name)
	return c
}

// PrivateFlood has attackers users, attacker0 and on, who read all they are sent, each send
// victim perAttacker private messages, "/msg VICTIM I N <1000 x>", at perSecond a second
// each, and then attacker0 "/msg VICTIM end". It returns once the attackers are in, sending
// in the background, so that the victim reads while it is attacked (a victim that read only
// afterwards could pass the write timeout on a loaded machine); wait returns once everything
// is sent.
func PrivateFlood(t testing.TB, addr, victim string, attackers, perAttacker, perSecond int) (wait func()) {
	t.Helper()
	filler := strings.Repeat("x", 1000)
	var clients []*Client
	for i := range attackers {
		c := Join(t, addr, fmt.Sprintf("attacker%d", i))
		c.Conn.SetReadDeadline(time.Time{})
		go io.Copy(io.Discard, c.Conn) // ends when the test closes the connection
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / time.Duration(perSecond))
			defer tick.Stop()
			for n := range perAttacker {
				<-tick.C
				c.Conn.SetWriteDeadline(time.Now().Add(Timeout))
				if _, err := fmt.Fprintf(c.Conn, "/msg %s %d %d %s\r\n", victim, i, n, filler); err != nil {
					t.Errorf("attacker %d: %v", i, err)
					return
				}
			}
		})
	}
	var sent sync.WaitGroup
	sent.Go(func() {
		wg.Wait()
		clients[0].Conn.SetWriteDeadline(time.Now().Add(Timeout))
		if _, err := fmt.Fprintf(clients[0].Conn, "/msg %s end\r\n", victim); err != nil {
			t.Errorf("attacker 0: %v", err)
		}
	})
	t.Cleanup(sent.Wait)
	return sent.Wait
}

// Clock is a chat's clock for tests (chat.Config.Now): it moves only when told, so that a
// test passes a wait by moving it, not by sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that stands at 2026-11-25 12:00 UTC.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Recorder is a chat.Client that keeps what it is delivered, in order: for tests of the chat
// domain on Message values, with no transport in between.
type Recorder struct {
	mu      sync.Mutex
	got     []*chat.Message
	dropped chat.DropReason
}

// Deliver implements chat.Client.
func (r *Recorder) Deliver(m *chat.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
}

// Drop implements chat.Client.
func (r *Recorder) Drop(reason chat.DropReason, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = reason
}

// Take returns what was delivered since the last Take.
func (r *Recorder) Take() []*chat.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// Next waits until the recorder is delivered a message for which want is true, and returns
// it; what was delivered before it is taken too. The test fails after Timeout.
func (r *Recorder) Next(t testing.TB, want func(*chat.Message) bool) *chat.Message {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		r.mu.Lock()
		for i, m := range r.got {
			if want(m) {
				r.got = r.got[i+1:]
				r.mu.Unlock()
				return m
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			var got []string
			for _, m := range r.Take() {
				got = append(got, fmt.Sprintf("%s %s %s %q", m.Kind, m.Room, m.From, m.Text))
			}
			t.Fatalf("no message as wanted within %v; got %q", Timeout, got)
		}
		waitBriefly() // delivered from the store's goroutine, with nothing to wait on
	}
}

// Dropped returns why the chat dropped the client, "" when it did not.
func (r *Recorder) Dropped() chat.DropReason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

// Enter connects a Recorder to hub from addr (e.g. "127.0.0.2") and answers the name prompt
// with name.
func Enter(t testing.TB, hub *chat.Hub, addr, name string) (*chat.Session, *Recorder) {
	t.Helper()
	return EnterAs(t, hub, addr, name, "")
}

// EnterAs is Enter for the account called name: it answers the password question with
// password (when not "").
func EnterAs(t testing.TB, hub *chat.Hub, addr, name, password string) (*chat.Session, *Recorder) {
	t.Helper()
	rec := &Recorder{}
	s, err := hub.Connect(rec, chat.Peer{Addr: netip.MustParseAddr(addr)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Handle([]byte(name)); err != nil {
		t.Fatal(err)
	}
	if password != "" {
		if err := s.Handle([]byte(password)); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Registered() {
		t.Fatalf("%s did not enter: %v", name, rec.Take())
	}
	rec.Take()
	t.Cleanup(s.Close)
	return s, rec
}

// KeepTalking has c say numbered lines ("noise N"), fifty to a write, as fast as the server
// takes them, so that the server writes to the members of c's room all along; what c is sent
// is read and dropped. The returned stop ends it: it closes c's connection (a write held back
// by the line rate ends too) and waits. At most a million lines.
func KeepTalking(t testing.TB, c *Client) (stop func()) {
	t.Helper()
	c.Conn.SetReadDeadline(time.Time{})
	go io.Copy(io.Discard, c.Conn) // ends when stop closes the connection
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var b strings.Builder
		for n := 0; n < 1_000_000; {
			select {
			case <-done:
				return
			default:
			}
			b.Reset()
			for range 50 { // each line its own: a line said again is told once, with a count
				n++
				fmt.Fprintf(&b, "noise %d\r\n", n)
			}
			c.Conn.SetWriteDeadline(time.Now().Add(Timeout))
			if _, err := io.WriteString(c.Conn, b.String()); err != nil {
				return
			}
		}
	})
	return func() {
		close(done)
		c.Conn.Close()
		wg.Wait()
	}
}

// TalkBesideNoise starts a watcher in #talk, and a talker in #noise that talks (KeepTalking)
// until stop is called: the server writes all along to whoever is in #noise.
func TalkBesideNoise(t testing.TB, addr string) (watcher *Client, stop func()) {
	t.Helper()
	watcher = Join(t, addr, "watcher")
	watcher.Send("/join #talk")
	for !strings.HasPrefix(watcher.ReadLine(), "*** you made #talk") {
	}
	talker := Join(t, addr, "talker")
	talker.Send("/join #noise")
	return watcher, KeepTalking(t, talker)
}

// FloodUntilLogged has flooder flood its room (Flood) until logs have a line with every one of
// parts.
func FloodUntilLogged(t testing.TB, flooder *Client, logs *Logs, parts ...string) {
	t.Helper()
	flooder.Conn.SetReadDeadline(time.Time{})
	stop := make(chan struct{})
	wait := Flood(t, flooder.Conn, stop, func() {})
	defer wait()
	defer close(stop)
	logs.WaitFor(t, parts...)
}

// Flood has flooder say 200-byte lines at about 400 KB/s (many times what the slow reader
// takes) until stop is closed, or a minute has passed; after a second of it, ask is called
// once (the slow reader sends its command in the middle of the flood). It returns when the
// flood has begun, and wait returns once it has ended.
func Flood(t testing.TB, flooder net.Conn, stop <-chan struct{}, ask func()) (wait func()) {
	t.Helper()
	filler := strings.Repeat("f", 190)
	var batch strings.Builder
	for i := range 20 {
		fmt.Fprintf(&batch, "%02d %s\r\n", i, filler)
	}
	go io.Copy(io.Discard, flooder) // ends when the test closes the connection
	var wg sync.WaitGroup
	begun := make(chan struct{})
	wg.Go(func() {
		pace := time.NewTicker(10 * time.Millisecond)
		defer pace.Stop()
		close(begun)
		for n := range 6000 { // a minute at most
			select {
			case <-stop:
				return
			case <-pace.C:
			}
			flooder.SetWriteDeadline(time.Now().Add(Timeout))
			if _, err := io.WriteString(flooder, batch.String()); err != nil {
				t.Errorf("flood: %v", err)
				return
			}
			if n == 100 {
				ask()
			}
		}
	})
	<-begun
	return wg.Wait
}
