package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chattest"
)

// waitJS waits until the JavaScript expression cond is true.
func waitJS(cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(15*time.Second))
}

// shown is true when the element with id takes room on the page.
func shown(id string) string {
	return `(document.getElementById("` + id + `").offsetWidth > 0)`
}

// atBottom is true when the log shows its newest line.
const atBottom = `(() => { const l = document.getElementById("log"); return l.scrollTop + l.clientHeight >= l.scrollHeight - 8; })()`

// inView is true when the input line is entirely inside the window.
const inView = `document.getElementById("say-form").getBoundingClientRect().bottom <= innerHeight + 0.5 &&
	document.documentElement.scrollHeight <= innerHeight + 0.5`

// screenshot saves what the page looks like to $HUBBUB_SHOTS/name.png, when that is set, for
// a person to look at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("HUBBUB_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// joinPage opens the page in a window of width by height and registers as name.
func joinPage(t *testing.T, ctx context.Context, httpAddr, name string, width, height int64, mobile bool) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, height, opts...),
		chromedp.Navigate("http://"+httpAddr+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		// Nothing to page back through before there is a room to show.
		waitJS("!"+shown("earlier")),
		typeInto("#name", name+"\n"),
		waitText("#status", "connected as "+name),
		waitJS(shown("earlier")),
	)
	if err != nil {
		t.Fatalf("join as %s: %v", name, err)
	}
}

// TestPageFollowsNewLines checks on a desktop window and on a phone that the view follows new
// lines: after a long replay with a 4 KB line, after the user's own line, after another 4 KB
// line; that it stays put while the user reads further up and says there are new lines below;
// and that on the phone the input line stays in the window.
func TestPageFollowsNewLines(t *testing.T) {
	for _, tc := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"desktop", 1100, 700, false},
		{"phone", 390, 844, true},
		{"short phone", 390, 600, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := chromium(t)
			_, addrs := startMain(t, nil)
			nc := chattest.Join(t, addrs["chat"], "termy")
			for i := range 19 {
				nc.Send(fmt.Sprintf("line %d %s", i, strings.Repeat("word ", i*4)))
			}
			nc.Send("long " + strings.Repeat("x", 4000))
			for i := range 6 {
				nc.Send(fmt.Sprintf("/join room%d", i))
			}
			nc.Send("/join lobby")
			readUntil(t, nc, "*** now talking in #lobby")

			joinPage(t, ctx, addrs["http"], "webby", tc.width, tc.height, tc.mobile)
			err := chromedp.Do(ctx,
				waitText("#log", "history above"),
				waitJS(atBottom),
				waitJS(inView),
				typeInto("#say", "my own line\n"),
				waitText("#log", "my own line"),
				waitJS(atBottom),
			)
			if err != nil {
				t.Fatalf("after the replay: %v", err)
			}
			nc.Expect("webby has joined the channel", "<webby> my own line")
			nc.Send("second long " + strings.Repeat("y", 4000))
			if err := chromedp.Do(ctx, waitText("#log", "second long"), waitJS(atBottom), waitJS(inView)); err != nil {
				t.Fatalf("after a long line: %v", err)
			}
			screenshot(t, ctx, "follow-"+strings.ReplaceAll(tc.name, " ", "-"))

			// The user scrolls up to read: new lines do not move the view, a marker says so.
			// The scroll event is sent at once, as the user's scrolling would have sent it by the
			// time the next line comes, rather than at the next frame.
			err = chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`{ const l = document.getElementById("log");
				l.scrollTop = 0; l.dispatchEvent(new Event("scroll")); }`))
			if err != nil {
				t.Fatal(err)
			}
			nc.Send("while you read")
			err = chromedp.Do(ctx,
				waitText("#log", "while you read"),
				waitJS(shown("new-lines")),
			)
			if err != nil {
				t.Fatalf("marker: %v", err)
			}
			top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("log").scrollTop`))
			if err != nil || top != 0 {
				t.Errorf("the view moved while the user read further up: scrollTop %v (%v)", top, err)
			}
			screenshot(t, ctx, "marker-"+strings.ReplaceAll(tc.name, " ", "-"))
			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS("#new-lines")),
				waitJS(atBottom),
				waitJS("!"+shown("new-lines")),
				waitJS(inView),
			)
			if err != nil {
				t.Fatalf("back to the new lines: %v", err)
			}
		})
	}
}

// TestPageTopicCleared: a cleared topic says so, not "undefined".
func TestPageTopicCleared(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	nc := chattest.Join(t, addrs["chat"], "alice")
	nc.Send("/join attic")
	nc.Expect("*** you made #attic and own it: plain lines now go there")
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, typeInto("#say", "/join attic\n"), waitText("#room-title", "#attic")); err != nil {
		t.Fatal(err)
	}
	readUntil(t, nc, "webby has joined #attic")
	nc.Send("/topic dust and boxes")
	if err := chromedp.Do(ctx, waitText("#log", "alice set the topic: dust and boxes")); err != nil {
		t.Fatal(err)
	}
	nc.Send("/topic -")
	if err := chromedp.Do(ctx, waitText("#log", "alice cleared the topic")); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("log").textContent`))
	if err != nil || strings.Contains(text, "undefined") {
		t.Errorf("log %q (%v)", text, err)
	}
}

// TestPageNoticeAndAction: a user named "you" acts out what the server would say to the page's
// user. The two lines must differ in their text and in their look.
func TestPageNoticeAndAction(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, nil)
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, typeInto("#say", "/join go\n"), waitText("#room-title", "#go")); err != nil {
		t.Fatal(err)
	}
	you := chattest.Join(t, addrs["chat"], "you")
	you.Send("/join go")
	you.ReadLine()
	you.Send("/me made #go and own it: plain lines now go there")
	if err := chromedp.Do(ctx, waitText("#log .action", "made #go")); err != nil {
		t.Fatal(err)
	}
	// The text and the computed look of each line, without its time.
	looks, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#log .notice, #log .action")]
		.filter((li) => li.textContent.includes("made #go and own it"))
		.map((li) => { const s = getComputedStyle(li);
			return [...li.childNodes].filter((n) => !n.classList.contains("time")).map((n) => n.textContent).join("") +
				" | " + [s.color, s.fontStyle, s.borderLeftStyle].join(" "); })`))
	if err != nil {
		t.Fatal(err)
	}
	if len(looks) != 2 {
		t.Fatalf("lines %q, want a notice and an action", looks)
	}
	notice, action := looks[0], looks[1]
	text := func(s string) string { return s[:strings.Index(s, " | ")] }
	look := func(s string) string { return s[strings.Index(s, " | ")+3:] }
	if text(notice) != "*** you made #go and own it: plain lines now go there" ||
		text(action) != "* you made #go and own it: plain lines now go there" {
		t.Errorf("notice %q, action %q", notice, action)
	}
	if look(notice) == look(action) {
		t.Errorf("a notice and an action look the same: %q", look(notice))
	}
	screenshot(t, ctx, "notice-action")
}

// TestPageWaitsAfterKick: a kicked user sees why and is not taken back in until they ask.
func TestPageWaitsAfterKick(t *testing.T) {
	ctx := chromium(t)
	_, addrs := startMain(t, func(c *Config) { c.Chat.OperPassword = "sesame" })
	op := chattest.Join(t, addrs["chat"], "op")
	op.Send("/oper sesame")
	op.ReadLine()
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	op.Expect("webby has joined the channel")
	op.Send("/kick webby " + strings.Repeat("enough of that ", 10))
	op.ReadLine() // webby has left the channel
	err := chromedp.Do(ctx,
		waitText("#status", "disconnected: you were kicked by op: enough of that"),
		waitJS(shown("reconnect")),
		waitText("#log", "*** you were kicked by op: enough of that"),
	)
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "kicked")
	// A page that came back by itself would do so within its first backoff (half a second).
	op.ExpectSilence(2 * time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#reconnect")), waitText("#status", "connected as webby")); err != nil {
		t.Fatal(err)
	}
	op.Expect("webby has joined the channel")
}
