package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chattest"
)

// logLines returns the page's log lines that contain text.
func logLines(t *testing.T, ctx context.Context, text string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#log li")].filter((li) => li.textContent.includes(`+jsString(text)+`)).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPageRefusedNameSentOnce: a name the server refuses is sent once, and the next name the
// user types is taken as a name, never said in the lobby.
func TestPageRefusedNameSentOnce(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	watcher := chattest.Join(t, addrs["chat"], "watcher")
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 700),
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		typeInto("#name", "admin\n"),
		waitText("#name-error", "that name is reserved"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("name").value = ""`),
		typeInto("#name", "loopy\n"),
		waitText("#status", "connected as loopy"),
	)
	if err != nil {
		t.Fatal(err)
	}
	watcher.Expect("loopy has joined the channel")
	watcher.Send("/history")
	for _, line := range readUntil(t, watcher, "*** no earlier history") {
		if strings.Contains(line, "<loopy>") {
			t.Errorf("the page said its name in the lobby: %q", line)
		}
	}
}

// TestPageShowsKickFromRoom: a user kicked from a room sees why, in the room it is back in.
func TestPageShowsKickFromRoom(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	owner := chattest.Join(t, addrs["chat"], "owner")
	owner.Send("/join go")
	owner.Expect("*** you made #go and own it: plain lines now go there")
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, typeInto("#say", "/join go\n"), waitText("#room-title", "#go")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, owner, "webby has joined #go")
	owner.Send("/kick webby go away")
	err := chromedp.Do(ctx,
		waitText("#room-title", "#lobby"),
		waitText("#log", "you were kicked from #go by owner: go away"),
	)
	if err != nil {
		t.Fatal(err)
	}
}

// TestPageEarlierLinesStay: after asking for earlier lines the user reads them; a new line
// does not pull the view away, the marker says it came.
func TestPageEarlierLinesStay(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/join go")
	nc.Expect("*** you made #go and own it: plain lines now go there")
	for i := range 60 {
		nc.Send(fmt.Sprintf("old line %d.", i))
	}
	nc.Send("last of the old lines")
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	err := chromedp.Do(ctx,
		typeInto("#say", "/join go\n"),
		waitText("#log", "last of the old lines"),
		chromedp.Click(chromedp.CSS("#earlier")),
		waitText("#log", "old line 21."), // the page before the replay's
		waitJS(`document.getElementById("log").scrollTop === 0`),
	)
	if err != nil {
		t.Fatal(err)
	}
	nc.Send("a new line")
	if err := chromedp.Do(ctx, waitText("#log", "a new line"), waitJS(shown("new-lines"))); err != nil {
		t.Fatal(err)
	}
	top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("log").scrollTop`))
	if err != nil || top != 0 {
		t.Errorf("the view left the earlier lines: scrollTop %v (%v)", top, err)
	}
}

// TestPageOwnAction: the page shows the user's own /me at once, and once after a reconnect's
// replay.
func TestPageOwnAction(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	nc := chattest.Join(t, addrs["chat"], "termy")
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	nc.Expect("webby has joined the channel")
	if err := chromedp.Do(ctx, typeInto("#say", "/me waves from the web\n"), waitText("#log", "* webby waves from the web")); err != nil {
		t.Fatal(err)
	}
	nc.Expect("* webby waves from the web")
	if n := logLines(t, ctx, "waves from the web"); n != 1 {
		t.Errorf("own action shown %d times, want 1", n)
	}
}

// TestPageRejoinsAfterRestart: after the server comes back, the page is back in the room it
// was in, not only in the lobby.
func TestPageRejoinsAfterRestart(t *testing.T) {
	ctx := chromium(t)
	m, addrs := startMain(t, nil)
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, typeInto("#say", "/join go\n"), waitText("#room-title", "#go")); err != nil {
		t.Fatal(err)
	}
	restartUnderPage(t, ctx, m, addrs)
	if err := chromedp.Do(ctx, waitText("#status", "connected as webby"), waitText("#room-title", "#go")); err != nil {
		t.Fatal(err)
	}
	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/who go")
	nc.Expect("*** #go (1): webby (owner)")
}

// TestPageLogsIn: a name registered over telnet asks the page for its password in a field
// that hides it; the right one logs in, and the password shows nowhere on the page.
func TestPageLogsIn(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	nc := chattest.Join(t, addrs["chat"], "alice")
	nc.Send("/register")
	for _, question := range []string{"choose a password for alice", "the same password again"} {
		for line := nc.ReadLine(); !strings.Contains(line, question); line = nc.ReadLine() {
		}
		nc.Send("correct horse")
	}
	readUntil(t, nc, "*** alice is registered to you: next time, choosing alice asks for this password")
	nc.Send("/quit")
	nc.ExpectClosed()

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1100, 700),
		chromedp.Navigate("http://"+addrs["http"]+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		typeInto("#name", "alice\n"),
		waitText("#name-label", "password for alice"),
		waitJS(`document.getElementById("name").type === "password"`),
		typeInto("#name", "correct horse\n"),
		waitText("#status", "connected as alice"),
		waitJS(`document.getElementById("name").type === "text"`),
	)
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText + [...document.querySelectorAll("input")].map((i) => i.value).join(" ")`))
	if err != nil || strings.Contains(text, "horse") {
		t.Errorf("the password shows on the page (%v)", err)
	}
}

// TestPageLargeRoomSaysHowManyMore: the members of a large room are listed up to a bound;
// the page says how many more there are, rather than showing 50 as if they were all.
func TestPageLargeRoomSaysHowManyMore(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, func(c *Config) { c.Chat.AnnounceLimit = 10 })
	for i := range 51 {
		chattest.Join(t, addrs["chat"], fmt.Sprintf("user%02d", i))
	}
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, waitText("#members", "and 2 more")); err != nil {
		t.Fatal(err)
	}
}
