package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"hubbub/internal/chattest"
)

// --accounts off and required, and --operators from the configuration, reach the chat.
func TestAccountsModes(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		p := startProc(t, "", "--accounts", "off")
		c := chattest.Join(t, p.addrs["chat"], "alice")
		c.Send("/register")
		c.Expect("*** accounts are off on this server")
		// The page is told, and offers no login form; there is no login to post to.
		if _, got := get(t, "http://"+p.addrs["http"]+"/features.json"); got != `{"accounts":false,"accounts_required":false}`+"\n" {
			t.Errorf("features.json: %q", got)
		}
		resp, err := http.Post("http://"+p.addrs["http"]+"/login", "application/x-www-form-urlencoded", strings.NewReader("name=alice&password=whatever1"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /login with accounts off: %s, want no such page", resp.Status)
		}
	})
	t.Run("required", func(t *testing.T) {
		p := startProc(t, "", "--accounts", "required")
		c := chattest.Dial(t, p.addrs["chat"])
		c.Expect("What's your name?")
		c.Send("alice")
		if _, got := get(t, "http://"+p.addrs["http"]+"/features.json"); got != `{"accounts":true,"accounts_required":true}`+"\n" {
			t.Errorf("features.json: %q", got)
		}
		c.Expect("\xff\xfb\x01*** alice is not registered, and this server is for accounts only: choose a password to register it (a password has at least 8 characters, at most 256 bytes, and no control characters)")
	})
	t.Run("operators", func(t *testing.T) {
		p := startProc(t, "", "--operators", "root1, boss")
		c := chattest.Dial(t, p.addrs["chat"])
		c.Expect("What's your name?")
		c.Send("boss")
		c.Expect("*** that name is kept for an operator, please choose other")
	})
}

func TestAccountsModeRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--accounts", "maybe"},
		{"--accounts", "required", "--no-history"},
		{"--operators", "a b"},
		{"--max-sessions-per-account", "0"},
	} {
		t.Run(args[1], func(t *testing.T) {
			noEnv := func(string) (string, bool) { return "", false }
			if _, err := parseConfig(args, noEnv, io.Discard); err == nil {
				t.Errorf("%v was accepted", args)
			}
		})
	}
}
