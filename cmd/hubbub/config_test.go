package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chattest"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.ChatAddr == ":8000" && c.QuoteAddr == ":9000" && c.EchoAddr == ":8007" &&
				c.Line.MaxLine == 4096 && c.Line.RegisterTimeout == time.Minute && c.ShutdownTimeout == 10*time.Second
		}},
		{"env sets", nil, map[string]string{"HUBBUB_CHAT_ADDR": "127.0.0.1:7000", "HUBBUB_MAX_LINE": "100"}, func(c Config) bool {
			return c.ChatAddr == "127.0.0.1:7000" && c.Line.MaxLine == 100
		}},
		{"empty env turns a service off", nil, map[string]string{"HUBBUB_QUOTE_ADDR": ""}, func(c Config) bool {
			return c.QuoteAddr == "" && c.ChatAddr == ":8000"
		}},
		{"flag beats env", []string{"--chat-addr", ":1234", "--echo-addr="}, map[string]string{"HUBBUB_CHAT_ADDR": ":7000"}, func(c Config) bool {
			return c.ChatAddr == ":1234" && c.EchoAddr == ""
		}},
		{"single dash works too", []string{"-max-queue", "99999", "-line-rate=0"}, nil, func(c Config) bool {
			return c.Line.MaxQueue == 99999 && c.Line.LineRate == 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, envMap(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"bad env value names the variable", nil, map[string]string{"HUBBUB_MAX_LINE": "lots"}, "HUBBUB_MAX_LINE"},
		{"negative", []string{"--max-line", "-1"}, nil, "--max-line must be positive"},
		{"queue smaller than a line", []string{"--max-queue", "100"}, nil, "--max-queue (100) must exceed --max-line"},
		{"zero timeout", []string{"--write-timeout", "0s"}, nil, "--write-timeout must be positive"},
		{"bad prefix", []string{"--limit-exempt", "nonsense"}, nil, "--limit-exempt"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"unknown flag", []string{"--no-such-flag"}, nil, "no-such-flag"},
		{"negative announce limit", []string{"--announce-limit", "-1"}, nil, "--announce-limit must be 0 (always announce) or more"},
		{"stray argument", []string{"extra"}, nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envMap(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var help strings.Builder
	if code := run([]string{"--help"}, &help, io.Discard); code != 0 {
		t.Fatalf("--help exit code %d", code)
	}
	for _, def := range []string{`default ":8000", $HUBBUB_CHAT_ADDR`, `default "4096", $HUBBUB_MAX_LINE`} {
		if !strings.Contains(help.String(), def) {
			t.Errorf("--help does not show %s", def)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fs := flagSet(new(Config), io.Discard)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		for doc, text := range map[string]string{"--help": help.String(), "README.md": string(readme)} {
			if !strings.Contains(text, "--"+f.Name) || !strings.Contains(text, envName(f.Name)) {
				t.Errorf("%s does not document --%s and $%s", doc, f.Name, envName(f.Name))
			}
		}
	})
	if n < 15 {
		t.Errorf("only %d flags", n)
	}
}

// TestMainRunAndShutdown runs every service in this process and stops it: nothing leaks
// (TestMain checks with goleak), and the log shows each real address.
func TestMainRunAndShutdown(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.ChatAddr, cfg.QuoteAddr, cfg.EchoAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.IRCAddr = "127.0.0.1:0"
	logs := &chattest.Logs{}
	m := &Main{cfg: cfg, log: slog.New(slog.NewTextHandler(logs, nil))}
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"chat", "irc", "quote", "echo", "http", "admin"} {
		addr := m.Addr(svc)
		logs.WaitFor(t, "msg=listening", "service="+svc, "addr="+addr)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("%s not listening on %s: %v", svc, addr, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestListenErrorNamesTheAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.ChatAddr, cfg.QuoteAddr, cfg.EchoAddr = "127.0.0.1:0", ln.Addr().String(), ""
	cfg.IRCAddr = ""
	m := &Main{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	err = m.Run()
	if err == nil || !strings.Contains(err.Error(), "quote: listen on "+ln.Addr().String()) {
		t.Fatalf("Run = %v, want an error naming the quote address", err)
	}

	// The admin listener alone serves nobody: the public HTTP listener does (the chat over /ws).
	cfg.ChatAddr, cfg.QuoteAddr, cfg.HTTPAddr = "", "", ""
	if err := (&Main{cfg: cfg, log: slog.New(slog.DiscardHandler)}).Run(); err == nil || !strings.Contains(err.Error(), "--http-addr") {
		t.Fatalf("Run with every service off = %v, want an error naming the flags that turn one on", err)
	}
}

// TestMOTDFile shows the message of the day from --motd-file, made safe, after the welcome;
// a file that cannot be read stops the start with its path.
func TestMOTDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "motd.txt")
	if err := os.WriteFile(path, []byte("Welcome to \x1b[1mhubbub\r\nBe kind.\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, addrs := startMain(t, func(c *Config) { c.MOTDFile = path })
	c := chattest.Join(t, addrs["chat"], "alice")
	c.Expect("*** Welcome to hubbub", "*** Be kind.")
	c.Send("/help quit")
	c.Expect("*** /quit [REASON]: leave the chat") // the empty last line was not shown

	cfg := m.cfg
	cfg.MOTDFile = filepath.Join(t.TempDir(), "missing.txt")
	err := (&Main{cfg: cfg, log: slog.New(slog.DiscardHandler)}).Run()
	if err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Fatalf("Run with a missing MOTD file = %v, want an error naming it", err)
	}
}

// TestAnnounceLimitFlag: --announce-limit reaches the chat: above it a join is not told to
// the room, and the joiner is told why.
func TestAnnounceLimitFlag(t *testing.T) {
	cfg, err := parseConfig([]string{"--announce-limit", "1"}, envMap(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, addrs := startMain(t, func(c *Config) { c.Chat = cfg.Chat })
	alice := chattest.Join(t, addrs["chat"], "alice")
	bob := chattest.Join(t, addrs["chat"], "bob")
	bob.Expect("*** #lobby has 2 members: its members' joins and leaves are not shown here, only its owner's and operators'; /who lists who moderates it, /whois NAME finds anyone")
	bob.Send("hello")
	alice.Expect("<bob> hello") // and not "bob has joined the channel" first
}

// TestConfigFile checks the file's place in the order (flag > env > file > default), lists,
// and that an unknown key or a bad value is an error naming the key.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := file("good.toml", `
chat-addr = "127.0.0.1:7001"
quote-addr = "127.0.0.1:7002"
echo-addr = ""
max-line = 2048
line-rate = 2.5
write-timeout = "3s"
no-history = true
limit-exempt = ["10.0.0.0/8", "::1/128"]
oper-password = "hunter2"
`)
	cfg, err := parseConfig([]string{"--config", good, "--quote-addr", ":7777"},
		envMap(map[string]string{"HUBBUB_MAX_LINE": "1000"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.ChatAddr != "127.0.0.1:7001", cfg.EchoAddr != "", cfg.Line.LineRate != 2.5,
		cfg.Line.WriteTimeout != 3*time.Second, !cfg.NoHistory, cfg.LimitExempt != "10.0.0.0/8,::1/128":
		t.Errorf("file settings not applied: %+v", cfg)
	case cfg.QuoteAddr != ":7777":
		t.Errorf("quote-addr = %q: the flag must beat the file", cfg.QuoteAddr)
	case cfg.Line.MaxLine != 1000:
		t.Errorf("max-line = %d: the environment must beat the file", cfg.Line.MaxLine)
	case cfg.MaxConnsPerIP != 32:
		t.Errorf("max-conns-per-ip = %d: what the file leaves out keeps its default", cfg.MaxConnsPerIP)
	}
	if cfg, err := parseConfig(nil, envMap(map[string]string{"HUBBUB_CONFIG": good}), io.Discard); err != nil || cfg.ChatAddr != "127.0.0.1:7001" {
		t.Errorf("HUBBUB_CONFIG: %v, %q", err, cfg.ChatAddr)
	}

	for _, tt := range []struct{ text, want string }{
		{`chat-adr = ":1"`, `unknown setting "chat-adr"`},
		{`max-line = "lots"`, "max-line"},
		{`write-timeout = 10`, "write-timeout"},
		{"[chat]\naddr = \":1\"", `unknown setting "chat"`},
		{`chat-addr = `, "good.toml"},
	} {
		bad := file("good.toml", tt.text) // same name: the error names the file, not the case
		if _, err := parseConfig([]string{"--config=" + bad}, envMap(nil), io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("config %q: error %v, want one with %q", tt.text, err, tt.want)
		}
	}
}

// TestConfigCommand prints the effective configuration as TOML that reads back the same, with
// the operator password masked.
func TestConfigCommand(t *testing.T) {
	t.Setenv("HUBBUB_OPER_PASSWORD", "hunter2")
	var out, errs strings.Builder
	if code := run([]string{"config", "--max-queue", "99999", "--quote-addr="}, &out, &errs); code != 0 {
		t.Fatalf("hubbub config: exit %d: %s", code, errs.String())
	}
	text := out.String()
	for _, want := range []string{"max-queue = 99999\n", `quote-addr = ""` + "\n", `write-timeout = "10s"` + "\n",
		`oper-password = "********"` + "\n", "no-history = false\n", "announce-limit = 500\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("hubbub config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "hunter2") {
		t.Errorf("hubbub config shows the password:\n%s", text)
	}
	// What it prints is a configuration file that gives the same settings.
	path := filepath.Join(t.TempDir(), "effective.toml")
	if err := os.WriteFile(path, []byte(strings.Replace(text, `"********"`, `""`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"--config", path}, envMap(nil), io.Discard)
	if err != nil || cfg.Line.MaxQueue != 99999 || cfg.QuoteAddr != "" {
		t.Errorf("reading back: %v, %+v", err, cfg)
	}
}

// TestConfigCommandDataDir: hubbub config shows the data directory the server would use, not
// the empty string that means the default.
func TestConfigCommandDataDir(t *testing.T) {
	home, xdg := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	for _, tt := range []struct {
		xdg  string
		args []string
		want string
	}{
		{"", nil, filepath.Join(home, ".local", "share", "hubbub")},
		{xdg, nil, filepath.Join(xdg, "hubbub")},
		{"relative/ignored", nil, filepath.Join(home, ".local", "share", "hubbub")},
		{xdg, []string{"--data-dir", "/srv/chat"}, "/srv/chat"},
	} {
		t.Setenv("XDG_DATA_HOME", tt.xdg)
		var out, errs strings.Builder
		if code := run(append([]string{"config"}, tt.args...), &out, &errs); code != 0 {
			t.Fatalf("hubbub config %q: exit %d: %s", tt.args, code, errs.String())
		}
		if want := fmt.Sprintf("data-dir = %q\n", tt.want); !strings.Contains(out.String(), want) {
			t.Errorf("XDG_DATA_HOME=%q hubbub config %q lacks %q", tt.xdg, tt.args, want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out, errs strings.Builder
	if code := run([]string{"version"}, &out, &errs); code != 0 {
		t.Fatalf("hubbub version: exit %d: %s", code, errs.String())
	}
	if v := out.String(); !strings.HasPrefix(v, "hubbub ") || !strings.Contains(v, runtime.Version()) {
		t.Errorf("hubbub version = %q, want the name, the module version and the Go version", v)
	}
}
