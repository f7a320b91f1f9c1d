package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/password"
)

// dialogOpen is true while the name dialog is shown.
const dialogOpen = `document.getElementById("name-dialog").open`

// TestPageLoginForm: the page's login form logs in to an account and the page enters the chat
// as it; a reload is still logged in (the cookie), with no name asked; "log out" makes the page
// a guest again, and a reload stays one. The password is never on the page or in the
// browser's storage, and the page cannot read the cookie.
func TestPageLoginForm(t *testing.T) {
	ctx := chromium(t)
	m, addrs := startMain(t, nil)
	n, err := chat.ParseName("alice")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.history.CreateAccount(t.Context(), chat.Account{Name: n.Display, Keys: n.Keys(), Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	nc := chattest.Join(t, addrs["chat"], "termy")

	err = chromedp.Do(ctx,
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-password")),
		// A name with no account: told as a wrong password is, and the field emptied.
		typeInto("#login-name", "zed"),
		typeInto("#login-password", "some password\n"),
		waitText("#login-error", "wrong name or password"),
		waitJS(`document.getElementById("login-password").value === ""`),
		waitJS(`(document.getElementById("login-name").value = "", true)`), // cleared, as a user would
		typeInto("#login-name", "alice"),
		typeInto("#login-password", "correct horse\n"),
		waitText("#status", "connected as alice"),
		waitJS(`document.getElementById("login-password").value === ""`),
	)
	if err != nil {
		t.Fatalf("log in: %v", err)
	}
	nc.Expect("alice has joined the channel")
	err = chromedp.Do(ctx,
		waitJS("!"+dialogOpen),
		waitJS(shown("logout")),
		typeInto("#say", "hello as an account\n"),
	)
	if err != nil {
		t.Fatalf("logged in: %v", err)
	}
	nc.Expect("<alice> hello as an account")
	screenshot(t, ctx, "logged-in")
	secrets, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText + [...document.querySelectorAll("input")].map((i) => i.value).join(" ") +
		document.cookie + location.href + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(secrets, "horse") || strings.Contains(secrets, "hubbub_session") {
		t.Errorf("the password or the cookie is readable by the page: %q", secrets)
	}

	// Reloaded: still alice, straight in, no name asked.
	err = chromedp.Do(ctx,
		chromedp.Reload(),
		waitText("#status", "connected as alice"),
		waitJS(shown("logout")),
		waitJS("!"+dialogOpen),
		typeInto("#say", "back after reloading\n"),
	)
	if err != nil {
		t.Fatalf("after reloading: %v", err)
	}
	// The reload reaches the server as the old page's leave and the new page's join, or as
	// neither when the new page's connection is in before the old one is gone (alice, one
	// account on two devices for a moment, never left; seen on a loaded box).
	for line := nc.ReadLine(); line != "<alice> back after reloading"; line = nc.ReadLine() {
		if line != "alice has left the channel." && line != "alice has joined the channel" {
			t.Fatalf("after reloading, nc got %q", line)
		}
	}

	// Logged out: a guest at the name prompt, with the login form offered again.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		waitJS(dialogOpen),
		waitJS(shown("login-form")),
		waitJS("!"+shown("logout")),
	)
	if err != nil {
		t.Fatalf("log out: %v", err)
	}
	screenshot(t, ctx, "logged-out")
	nc.Expect("alice has left the channel.")
	err = chromedp.Do(ctx,
		typeInto("#name", "guesty\n"),
		waitText("#status", "connected as guesty"),
		chromedp.Reload(),
		waitJS(dialogOpen),
		waitJS(shown("login-form")),
	)
	if err != nil {
		t.Fatalf("as a guest: %v", err)
	}
	// The page's cookie is gone and so is its token: alice's only session ended.
	nc.Expect("guesty has joined the channel")
}
