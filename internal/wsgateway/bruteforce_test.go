package wsgateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

// guess answers the name prompt of a new connection from ip with name and pw, and returns
// what the server says to the password. The connection is closed, as a guesser's would be.
func guess(t *testing.T, addr, ip, name, pw string) string {
	t.Helper()
	c := chattest.DialFrom(t, ip, addr)
	defer c.Conn.Close()
	c.Expect("What's your name?")
	c.Send(name)
	c.Expect("\xff\xfb\x01*** password for " + name + ":")
	c.Send(pw)
	return strings.TrimPrefix(c.ReadLine(), "\xff\xfc\x01")
}

// registerFrom registers name with pw from a guest connection from ip.
func registerFrom(t *testing.T, addr, ip, name, pw string) {
	t.Helper()
	c := chattest.DialFrom(t, ip, addr)
	defer c.Conn.Close()
	c.Register(name)
	c.Send("/register")
	readTo(t, c, "\xff\xfb\x01*** choose a password for "+name+" (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	c.Send(pw)
	// Others come and go meanwhile (an earlier registration's connection closing): skipped.
	readTo(t, c, "\xff\xfc\x01*** the same password again (it will show as you type)")
	c.Send(pw)
	readTo(t, c, "*** "+name+" is registered to you: next time, choosing "+name+" asks for this password")
}

// formLogin posts the web page's login form from ip and returns the status, Retry-After and
// body of the answer.
func formLogin(t *testing.T, origin, ip, name, pw string) (int, string, string) {
	t.Helper()
	dialer := &net.Dialer{Timeout: chattest.Timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: dialer.DialContext}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(t.Context(), chattest.Timeout)
	defer cancel()
	form := url.Values{"name": {name}, "password": {pw}}
	req, err := http.NewRequestWithContext(ctx, "POST", origin+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(body)
}

// TestGuessingBoundsFromManyAddresses checks from the outside, over TCP from several
// addresses and through the web form, the bounds the README states on guessing passwords,
// beyond what TestLoginSlowed covers (one address doubling its wait, an empty line no guess,
// the owner from elsewhere not held up): addresses that failed on an account share one check
// a second for it, even with the right password, at the prompt and in the form alike; an
// address that never failed is checked at once; the bounds are per account; an address's wait
// doubles up to 5 minutes and no further; a right password forgets its count.
func TestGuessingBoundsFromManyAddresses(t *testing.T) {
	const pw, bobPW = "alice's real password", "bob's real password"
	s := startLogin(t, testConfig())
	addr, origin, clock := s.line, s.base, s.clock
	registerFrom(t, addr, "127.0.0.10", "alice", pw)
	registerFrom(t, addr, "127.0.0.11", "bob", bobPW)
	const a, b, c, owner = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
	wait := func(d string) string { return "*** too many wrong passwords for alice: try again in " + d }
	check := func(got, want string) {
		t.Helper()
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}

	// Three addresses each fail once: an address that never failed is always checked.
	for _, ip := range []string{a, b, c} {
		check(guess(t, addr, ip, "alice", "guess from "+ip), "*** wrong password")
	}
	// A second later each may try again, but together once a second: a checked, then b and c
	// held, even with the right password, at the prompt and in the web form.
	clock.Add(time.Second)
	check(guess(t, addr, a, "alice", "second guess"), "*** wrong password")
	check(guess(t, addr, b, "alice", pw), wait("1s"))
	if code, retry, body := formLogin(t, origin, c, "alice", pw); code != http.StatusTooManyRequests || retry != "1" ||
		!strings.Contains(body, "try again in 1 s") {
		t.Errorf("the form from an address that failed, within the account's second: %d, Retry-After %q, %s; want 429 after 1 s", code, retry, body)
	}
	// Meanwhile the owner, from an address that never failed, gets in at once; and the
	// guessers' counts on alice hold nothing of theirs on bob.
	check(guess(t, addr, owner, "alice", pw), "Welcome, alice!")
	check(guess(t, addr, a, "bob", bobPW), "Welcome, bob!")
	clock.Add(time.Second)
	check(guess(t, addr, b, "alice", pw), "Welcome, alice!")

	// a's wait doubles with each wrong password, up to 5 minutes.
	check(guess(t, addr, a, "alice", pw), wait("1s")) // its second failure holds it 2s
	clock.Add(time.Second)
	for _, next := range []string{"4s", "8s", "16s", "32s", "1m4s", "2m8s", "4m16s", "5m0s", "5m0s"} {
		check(guess(t, addr, a, "alice", "another guess"), "*** wrong password")
		check(guess(t, addr, a, "alice", pw), wait(next))
		d, err := time.ParseDuration(next)
		if err != nil {
			t.Fatal(err)
		}
		clock.Add(d)
	}
	// The right password, once let through, forgets the count: the next wrong one waits 1s.
	check(guess(t, addr, a, "alice", pw), "Welcome, alice!")
	check(guess(t, addr, a, "alice", "a guess again"), "*** wrong password")
	check(guess(t, addr, a, "alice", pw), wait("1s"))
}
