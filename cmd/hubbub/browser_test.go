package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chattest"
)

// chromium starts a headless Chromium for the test, with the flags it needs to run as root on
// a machine without a network, and any extra options.
func chromium(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (.ci/run installs it: apt-get install -y chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 700),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// waitText waits until the element matched by sel contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(document.querySelector(`+jsString(sel)+`)?.textContent ?? "").includes(`+jsString(text)+`)`,
		chromedp.WithPollingTimeout(15*time.Second))
}

// typeInto types text into the element matched by sel, as a user would. chromedp.SendKeys
// reads the element's attributes without its lock (chromedp v0.23, query.go), a data race
// when the page changes them meanwhile, as the name field does between text and password; this
// focuses the element and sends the keys to whatever has the focus.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(text))
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`).Replace(s) + "'"
}

// TestBrowser drives the page in a real Chromium: register, hear a telnet user, talk to them,
// switch rooms, read history on joining, hostile text shown as text, and reconnect after the
// server restarts.
func TestBrowser(t *testing.T) {
	ctx := chromium(t)
	m, addrs := startMain(t, nil)
	base := "http://" + addrs["http"]

	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/join attic")
	nc.Expect("*** you made #attic and own it: plain lines now go there")
	nc.Send("dusty old line")
	nc.Send("/join lobby")
	nc.Expect("*** now talking in #lobby")

	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		typeInto("#name", "webby\n"),
		waitText("#status", "connected as webby"),
	)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	nc.Expect("webby has joined the channel")

	hostile := "<img src=x onerror=\"window.pwned=1\"> \x1b[2J<b>bold?</b>"
	nc.Send("hello from nc " + hostile)
	err = chromedp.Do(ctx,
		waitText("#log", "hello from nc <img src=x onerror=\"window.pwned=1\"> <b>bold?</b>"),
		waitText("#members", "termy"),
		typeInto("#say", "hi from the browser\n"),
	)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	// A name may hold punctuation that looks like markup: it is shown as text too.
	nc.Expect("<webby> hi from the browser")
	odd := chattest.Join(t, addrs["chat"], "o<b>x</b>")
	nc.Expect("o<b>x</b> has joined the channel")
	if err := chromedp.Do(ctx, waitText("#members", "o<b>x</b>")); err != nil {
		t.Fatalf("odd name: %v", err)
	}
	odd.Send("/quit")
	odd.ExpectClosed()
	nc.Expect("o<b>x</b> has left the channel.")
	imgs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#log img, #log b, #members b").length`))
	if err != nil {
		t.Fatal(err)
	}
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned === 1`))
	if err != nil {
		t.Fatal(err)
	}
	if imgs != 0 || pwned {
		t.Errorf("hostile text became markup: %d elements, ran: %v", imgs, pwned)
	}

	// Another room, by typing; its history is shown on joining; back by clicking.
	err = chromedp.Do(ctx,
		typeInto("#say", "/join attic\n"),
		waitText("#room-title", "#attic"),
		waitText("#log", "dusty old line"),
		waitText("#rooms", "#lobby"),
		chromedp.Click(chromedp.CSS(`#rooms li[data-room="#lobby"]`)),
		waitText("#room-title", "#lobby"),
		waitText("#log", "hi from the browser"),
	)
	if err != nil {
		t.Fatalf("rooms: %v", err)
	}
	nc.Expect("webby has joined #attic")

	if os.Getenv("HUBBUB_SCREENSHOT") != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/screenshot.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The server goes away: the page says so, and comes back by itself with the same name.
	restartUnderPage(t, ctx, m, addrs)
	if err := chromedp.Do(ctx, waitText("#status", "connected as webby")); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	// The replay on joining again holds lines the page shows already: they are not repeated,
	// nor is the page's own line (shown when sent, replayed with its id).
	nc = chattest.Join(t, addrs["chat"], "termy")
	nc.Send("after the restart")
	if err := chromedp.Do(ctx, waitText("#log", "after the restart")); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	for _, tc := range []struct {
		line string
		max  int
	}{{"hello from nc", 1}, {"hi from the browser", 1}, {"o<b>x</b> joined", 1}, {"history above", 0}} {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#log li")].filter((li) => li.textContent.includes(`+jsString(tc.line)+`)).length`))
		if err != nil || n > tc.max || (tc.max > 0 && n == 0) {
			t.Errorf("%q shown %d times after reconnecting (%v), want %d", tc.line, n, err, tc.max)
		}
	}
}

// restartUnderPage shuts m down, waits until the page in ctx says it is disconnected, and starts
// the server again on the same addresses and data.
func restartUnderPage(t *testing.T, ctx context.Context, m *Main, addrs map[string]string) {
	t.Helper()
	sdCtx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := m.Shutdown(sdCtx); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, waitText("#status", "disconnected")); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	startMain(t, func(c *Config) {
		c.HTTPAddr, c.ChatAddr = addrs["http"], addrs["chat"]
		c.DataDir = m.cfg.DataDir
	})
}
