package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/password"
)

// bodyText is what a person sees on the page (a closed dialog shows nothing).
const bodyText = `document.body.innerText`

// makeAccount registers name with the password pw in m's database, as `hubbub account` does.
func makeAccount(t *testing.T, m *Main, name, pw string) {
	t.Helper()
	n, err := chat.ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.history.CreateAccount(t.Context(), chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// pageLogIn opens the page and logs in with its login form; bob, on telnet in the lobby, sees
// alice come; the page goes to a room of its own, where bob's secret for alice is shown.
func pageLogIn(t *testing.T, ctx context.Context, addrs map[string]string, bob *chattest.Client) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-password")),
		typeInto("#login-name", "alice"),
		typeInto("#login-password", "correct horse\n"),
		waitText("#status", "connected as alice"),
		waitText("#members", "bob"),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	bob.Expect("alice has joined the channel")
	err = chromedp.Do(ctx,
		typeInto("#say", "/join hideout\n"),
		waitText("#room-title", "#hideout"),
		waitText("#rooms", "#hideout"),
		waitText("#members", "alice"),
	)
	if err != nil {
		t.Fatalf("in the chat: %v", err)
	}
	bob.Send("/msg alice third secret")
	err = chromedp.Do(ctx, waitText("#log", "from bob: third secret"))
	if err != nil {
		t.Fatalf("in the chat: %v", err)
	}
}

// forgotten checks that nothing the account was shown is left on the page, with the name
// dialog open and then closed with Escape, as the next person at the computer would.
func forgotten(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := chromedp.Do(ctx, waitJS(dialogOpen), waitText("#status", "choose a name")); err != nil {
		t.Fatalf("no name asked: %v", err)
	}
	err := chromedp.Do(ctx,
		chromedp.Focus(chromedp.CSS("#name")),
		chromedp.KeyEvent(kb.Escape),
		waitJS("!"+dialogOpen),
	)
	if err != nil {
		t.Fatalf("closing the dialog: %v", err)
	}
	screenshot(t, ctx, "logged-out-escaped")
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](bodyText))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"third secret", "bob", "hideout", "alice"} {
		if strings.Contains(text, s) {
			t.Errorf("after logging out the page still shows %q:\n%s", s, text)
		}
	}
}

// readContaining reads c's lines until one holds part (telnet bytes may come before it).
func readContaining(t *testing.T, c *chattest.Client, part string) {
	t.Helper()
	for {
		line, err := c.TryReadLine(chattest.Timeout)
		if err != nil {
			t.Fatalf("no line with %q (%v)", part, err)
		}
		if strings.Contains(line, part) {
			return
		}
	}
}

// TestPageLogOutForgets: "log out" on a shared computer leaves nothing of the account on the
// page, even once the name dialog is closed: not its private messages, not who was in which
// room, not the room it was in.
func TestPageLogOutForgets(t *testing.T) {
	ctx := chromium(t)
	m, addrs := startMain(t, nil)
	makeAccount(t, m, "alice", "correct horse")
	bob := chattest.Join(t, addrs["chat"], "bob")
	pageLogIn(t, ctx, addrs, bob)

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout"))); err != nil {
		t.Fatal(err)
	}
	forgotten(t, ctx)
}

// TestPageLoggedOutForgets: the account logged out from another device (the chat's /logout)
// ends the page's login; coming back, the server says so (logged_out) and the page forgets
// what the account was shown.
func TestPageLoggedOutForgets(t *testing.T) {
	ctx := chromium(t)
	m, addrs := startMain(t, nil)
	makeAccount(t, m, "alice", "correct horse")
	bob := chattest.Join(t, addrs["chat"], "bob")
	pageLogIn(t, ctx, addrs, bob)

	other := chattest.Dial(t, addrs["chat"])
	other.Expect("What's your name?")
	other.Send("alice")
	readContaining(t, other, "password for alice")
	other.Send("correct horse")
	readContaining(t, other, "Welcome, alice!")
	other.Send("/logout")
	readContaining(t, other, "ended your session on 1 other device")

	// Dropped, the page waits for the user to come back (a 1008 close).
	err := chromedp.Do(ctx,
		waitText("#status", "logged out from another device"),
		chromedp.Click(chromedp.CSS("#reconnect")),
		waitText("#login-error", "your login has ended"),
	)
	if err != nil {
		t.Fatalf("coming back: %v", err)
	}
	forgotten(t, ctx)
}

// TestPageAccountsRequired: on a server for accounts only, the page says near the name field
// that a new name gets a password; the password question fits a dialog of sane width, its
// button says what it sends, an empty answer can be sent (asked again, then given up: the
// way out for a user who wants another name), and the notice that the name is registered is
// shown in the log once the dialog closes.
func TestPageAccountsRequired(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, func(c *Config) { c.Accounts = "required" })
	const (
		nameType   = `document.getElementById("name").type`
		buttonText = `document.getElementById("name-submit")?.textContent`
	)
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 700),
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		waitJS(shown("name-note")),
		waitText("#name-note", "registered"),
		waitJS(shown("login-form")), // an account made elsewhere can log in
		typeInto("#name", "alice\n"),
		waitText("#name-label", "alice is not registered"),
		waitJS(nameType+` === "password"`),
	)
	if err != nil {
		t.Fatalf("the question: %v", err)
	}
	screenshot(t, ctx, "required-question")
	type look struct {
		Placeholder string
		Button      string
		Dialog      float64
		Window      float64
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[look](`({Placeholder: document.getElementById("name").placeholder, Button: `+buttonText+`,
		Dialog: document.getElementById("name-dialog").getBoundingClientRect().width, Window: innerWidth})`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Placeholder != "password" || got.Button != "Send password" || got.Dialog > got.Window/2 {
		t.Errorf("password question: placeholder %q, button %q, dialog %.0f px wide in a window of %.0f, want \"password\", \"Send password\", at most half",
			got.Placeholder, got.Button, got.Dialog, got.Window)
	}

	// Escape does not close a question nobody could then see (what is typed next in the
	// message field would be taken as the password).
	// The dialog closes, or not, as the key is handled: no wait is needed.
	if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](dialogOpen))
	if err != nil {
		t.Fatal(err)
	}
	if !open {
		t.Fatal("Escape closed the dialog at a password question")
	}
	// An empty answer asks again; a second gives up, and the name is asked again.
	err = chromedp.Do(ctx,
		typeInto("#name", "\n"),
		waitText("#name-label", "no password given: type it, or an empty line again to give up"),
		waitJS(nameType+` === "password"`),
		typeInto("#name", "\n"),
		waitText("#name-error", "no password given: choose a name again"),
		waitJS(nameType+` === "text"`),
		waitJS(buttonText+` === "Join"`),
		waitText("#name-label", "What's your name?"),
	)
	if err != nil {
		t.Fatalf("empty answers: %v", err)
	}

	// Registered at the prompt: the confirmation is in the log, not lost with the dialog.
	err = chromedp.Do(ctx,
		typeInto("#name", "alice\n"),
		waitText("#name-label", "alice is not registered"),
		waitJS(nameType+` === "password"`),
		typeInto("#name", "correct horse\n"),
		waitText("#name-label", "the same password again"),
		typeInto("#name", "correct horse\n"),
		waitText("#status", "connected as alice"),
		waitJS("!"+dialogOpen),
		waitText("#log", "alice is registered to you: next time, choosing alice asks for this password"),
	)
	if err != nil {
		t.Fatalf("registering: %v", err)
	}
	screenshot(t, ctx, "required-registered")
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](bodyText+` + [...document.querySelectorAll("input")].map((i) => i.value).join(" ")`))
	if err != nil || strings.Contains(text, "horse") {
		t.Errorf("the password shows on the page (%v)", err)
	}
}

// TestPageAccountsOff: a server without accounts gets no login form on the page, nor the note
// about registering.
func TestPageAccountsOff(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, func(c *Config) { c.Accounts = "off" })
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		// The page has its answer from /features.json.
		waitJS(`document.documentElement.dataset.accounts === "off"`),
		waitJS("!"+shown("login-form")),
		waitJS("!"+shown("name-note")),
		typeInto("#name", "guesty\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
}
