package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hubbub/internal/chattest"
	"hubbub/internal/tlsconf"
)

// The IRC clients people use, from Debian, each in one room with a line user (the chat's own
// TCP conversation, as nc speaks it) and a browser user (the web page in headless Chromium).

// ircClient is a real IRC client that a test drives as its user would, in one channel.
type ircClient interface {
	join(channel string)
	say(text string)
	act(text string) // what /me says
	part(reason string)
	quit(reason string)
	// seesLine and seesAction wait until the client shows, in the channel, nick's line or
	// action as it shows them.
	seesLine(nick, text string)
	seesAction(nick, text string)
}

// talkInOneRoom is what every real client goes through: a line user (termy) and a browser
// user (webby) are in #attic; the IRC user nick joins it; each of the three says a line and an
// action that both others see; then the IRC user parts and quits, which both others see.
func talkInOneRoom(t *testing.T, addrs map[string]string, nick string, start func() ircClient) {
	t.Helper()
	ctx := chromium(t)
	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/join attic")
	nc.Expect("*** you made #attic and own it: plain lines now go there")
	joinPage(t, ctx, addrs["http"], "webby", 1100, 700, false)
	if err := chromedp.Do(ctx, typeInto("#say", "/join attic\n"), waitText("#room-title", "#attic")); err != nil {
		t.Fatalf("webby joins #attic: %v", err)
	}
	readUntil(t, nc, "webby has joined #attic")
	web := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("the page: %s: %v", what, err)
		}
	}

	irc := start()
	irc.join("#attic")
	readUntil(t, nc, nick+" has joined #attic")
	web("sees the IRC user join", waitText("#members", nick))

	irc.say("hello from " + nick)
	readUntil(t, nc, "<"+nick+"> hello from "+nick)
	web("sees the IRC line", waitText("#log", "hello from "+nick))
	irc.act("waves from " + nick)
	readUntil(t, nc, "* "+nick+" waves from "+nick)
	web("sees the IRC action", waitText("#log", "* "+nick+" waves from "+nick))

	nc.Send("hello from termy")
	irc.seesLine("termy", "hello from termy")
	nc.Send("/me nods from termy")
	irc.seesAction("termy", "nods from termy")

	web("talks", typeInto("#say", "hello from webby\n"), waitText("#log", "hello from webby"))
	irc.seesLine("webby", "hello from webby")
	readUntil(t, nc, "<webby> hello from webby")
	web("acts", typeInto("#say", "/me smiles from webby\n"), waitText("#log", "* webby smiles from webby"))
	irc.seesAction("webby", "smiles from webby")
	readUntil(t, nc, "* webby smiles from webby")

	irc.part("off to " + nick + "'s lobby")
	readUntil(t, nc, nick+" has left #attic. (off to "+nick+"'s lobby)")
	web("sees the part", waitText("#log", nick+" left #attic (off to "+nick+"'s lobby)"))
	irc.quit("bye from " + nick)
	// termy and webby are in #lobby too, where the IRC user was left: a quit is heard there.
	readUntil(t, nc, nick+" has left the channel. (quit: bye from "+nick+")")
	web("sees the quit", typeInto("#say", "/join lobby\n"), waitText("#room-title", "#lobby"),
		waitText("#log", nick+" left #lobby (quit: bye from "+nick+")"))
}

// needClient returns the path of a client's binary, or skips the test when it is not installed.
func needClient(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it: apt-get install -y %s)", name, pkg)
	}
	return path
}

// waitFile waits until the file at path holds a line with every part, in order, and returns
// that line. Clients that write files give no signal: the file is read again every few
// milliseconds until the line is there.
func waitFile(t *testing.T, path string, parts ...string) string {
	t.Helper()
	return waitFileWithin(t, chattest.Timeout, path, parts...)
}

// waitFileWithin is waitFile with a deadline of d.
func waitFileWithin(t *testing.T, d time.Duration, path string, parts ...string) string {
	t.Helper()
	var found string
	chattest.WaitWithin(t, d, fmt.Sprintf("%s holding a line with %q", path, parts), func() bool {
		data, _ := os.ReadFile(path)
		for line := range strings.SplitSeq(string(data), "\n") {
			if hasInOrder(line, parts) {
				found = line
				return true
			}
		}
		return false
	})
	t.Logf("%s: %q", filepath.Base(path), found)
	return found
}

func hasInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// iiClient is suckless ii: every server and channel is a directory with an "in" FIFO to write
// commands and lines to and an "out" file of what it shows.
type iiClient struct {
	t       *testing.T
	dir     string // the server's directory
	channel string
	done    chan error
}

func startII(t *testing.T, ircAddr, nick string) *iiClient {
	t.Helper()
	bin := needClient(t, "ii", "ii")
	host, port := splitAddr(t, ircAddr)
	root := t.TempDir()
	cmd := exec.Command(bin, "-s", host, "-p", port, "-n", nick, "-i", root)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ii: %v", err)
	}
	c := &iiClient{t: t, dir: filepath.Join(root, host), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	waitFile(t, filepath.Join(c.dir, "out"), "Welcome to hubbub, "+nick)
	return c
}

// write writes line to the FIFO in the directory dir (ii makes it before it shows anything).
func (c *iiClient) write(dir, line string) {
	c.t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "in"), os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatalf("ii: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		c.t.Fatalf("ii: %v", err)
	}
}

func (c *iiClient) chanDir() string { return filepath.Join(c.dir, c.channel) }

func (c *iiClient) join(channel string) {
	c.t.Helper()
	c.write(c.dir, "/j "+channel)
	c.channel = channel
	waitFile(c.t, filepath.Join(c.chanDir(), "out"), "has joined "+channel)
}

func (c *iiClient) say(text string) {
	c.t.Helper()
	c.write(c.chanDir(), text)
}

// act sends the CTCP ACTION itself: ii has no /me, and passes a command it does not know to
// the server as it is.
func (c *iiClient) act(text string) {
	c.t.Helper()
	c.write(c.chanDir(), "/PRIVMSG "+c.channel+" :\x01ACTION "+text+"\x01")
}

func (c *iiClient) part(reason string) {
	c.t.Helper()
	c.write(c.chanDir(), "/l "+reason)
}

func (c *iiClient) quit(reason string) {
	c.t.Helper()
	c.write(c.dir, "/q "+reason)
	select {
	case <-c.done: // ii exits when the server closes the connection
		c.done <- nil
	case <-time.After(chattest.Timeout):
		c.t.Fatal("ii did not exit after /q")
	}
}

func (c *iiClient) seesLine(nick, text string) {
	c.t.Helper()
	waitFile(c.t, filepath.Join(c.chanDir(), "out"), " <"+nick+"> "+text)
}

// seesAction: ii shows a CTCP ACTION as the PRIVMSG it came in, \x01 and all.
func (c *iiClient) seesAction(nick, text string) {
	c.t.Helper()
	waitFile(c.t, filepath.Join(c.chanDir(), "out"), " <"+nick+"> \x01ACTION "+text+"\x01")
}

// TestRealII: suckless ii talks with a line user and a browser user in one room.
func TestRealII(t *testing.T) {
	needClient(t, "ii", "ii")
	_, addrs := startMain(t, nil)
	talkInOneRoom(t, addrs, "iris", func() ircClient { return startII(t, addrs["irc"], "iris") })
}

// irssiClient is irssi in a pseudo-terminal, typed into as its user would; what it shows is
// read from its logs (autolog: one file per channel, written as each line is shown), which hold
// the same lines as the screen without the screen's cursor moves and colours.
type irssiClient struct {
	t       *testing.T
	term    *terminal
	logs    string
	channel string
}

func startIrssi(t *testing.T, ircAddr, nick string) *irssiClient {
	t.Helper()
	host, port := splitAddr(t, ircAddr)
	c := runIrssi(t, nick, "-c", host, "-p", port)
	c.registered(nick)
	return c
}

// runIrssi starts irssi in a terminal with its logs in a temporary directory, and args.
func runIrssi(t *testing.T, nick string, args ...string) *irssiClient {
	t.Helper()
	bin := needClient(t, "irssi", "irssi")
	home, logs := t.TempDir(), t.TempDir()
	config := `settings = {
  core = { real_name = "` + nick + `"; user_name = "` + nick + `"; nick = "` + nick + `"; settings_autosave = "no"; };
  "fe-common/core" = { autolog = "yes"; autolog_path = "` + logs + `/$0.log"; autolog_level = "all -crap -clientcrap -ctcps"; };
};
`
	if err := os.WriteFile(filepath.Join(home, "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TERM", "xterm") // irssi draws a full screen; CI runs without a terminal of its own
	c := &irssiClient{t: t, logs: logs}
	c.term = startPTY(t, bin, append([]string{"--home=" + home, "-n", nick}, args...)...)
	return c
}

// registered waits until irssi is in #lobby, where hubbub puts every new user: generously, as
// irssi takes its time to start on a loaded machine.
func (c *irssiClient) registered(nick string) {
	c.t.Helper()
	waitFileWithin(c.t, 3*chattest.Timeout, c.logOf("#lobby"), nick, "has joined #lobby")
}

// logOf returns the log file of channel: irssi names it in lower case.
func (c *irssiClient) logOf(channel string) string {
	return filepath.Join(c.logs, strings.ToLower(channel)+".log")
}

func (c *irssiClient) seesIn(channel string, parts ...string) {
	c.t.Helper()
	waitFile(c.t, c.logOf(channel), parts...)
}

func (c *irssiClient) join(channel string) {
	c.t.Helper()
	c.term.typeLine("/join " + channel)
	c.channel = channel
	c.seesIn(channel, "has joined "+channel)
}

func (c *irssiClient) say(text string) { c.t.Helper(); c.term.typeLine(text) }
func (c *irssiClient) act(text string) { c.t.Helper(); c.term.typeLine("/me " + text) }
func (c *irssiClient) part(reason string) {
	c.t.Helper()
	c.term.typeLine("/part " + c.channel + " " + reason)
}
func (c *irssiClient) quit(reason string) { c.t.Helper(); c.term.typeLine("/quit " + reason) }

// seesLine: irssi shows the nick's mode in front of it, "@" for the room's owner, else a space.
func (c *irssiClient) seesLine(nick, text string) {
	c.t.Helper()
	c.seesIn(c.channel, nick+"> "+text)
}

func (c *irssiClient) seesAction(nick, text string) {
	c.t.Helper()
	c.seesIn(c.channel, " * "+nick+" "+text)
}

// TestRealIrssi: irssi, in a terminal, talks with a line user and a browser user in one room.
func TestRealIrssi(t *testing.T) {
	needClient(t, "irssi", "irssi")
	_, addrs := startMain(t, nil)
	talkInOneRoom(t, addrs, "irene", func() ircClient { return startIrssi(t, addrs["irc"], "irene") })
}

// weechatClient is WeeChat without a screen (weechat-headless), driven through its FIFO as
// its scripts are, and read through its logger's files. It connects with the README's own
// command line for the WeeChat installed, so that the README's options are the ones tested.
type weechatClient struct {
	t       *testing.T
	fifo    string
	logs    string
	channel string
	done    chan error
	kill    func() // ends WeeChat and waits for it; once
}

// weechatMajor returns the major version of the weechat-headless installed (3 on Debian 12).
func weechatMajor(t *testing.T, bin string) int {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("weechat-headless --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(out)), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		t.Fatalf("weechat-headless --version says %q", out)
	}
	return n
}

// readmeWeeChat returns what the README's IRC section gives `weechat -r` in its one line that
// holds every part, for nick on ircAddr (for "localhost/6667" or "localhost/6697" and
// "-nicks=alice"), with fingerprint for $FP.
func readmeWeeChat(t *testing.T, ircAddr, nick, fingerprint string, parts ...string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## From an IRC client\n")
	section, _, _ = strings.Cut(section, "\n## ")
	var found []string
	for line := range strings.SplitSeq(section, "\n") {
		if strings.HasPrefix(line, "weechat -r ") && hasAll(line, parts) && (fingerprint != "") == strings.Contains(line, "$FP") {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md's IRC section has %d lines `weechat -r ...` with %q: %q", len(found), parts, found)
	}
	line := strings.TrimPrefix(found[0], "weechat -r ")
	quote := line[:1]
	arg, _, ok := strings.Cut(line[1:], quote)
	if !ok || (quote != "'" && quote != `"`) {
		t.Fatalf("README.md: no quoted argument in %q", found[0])
	}
	return strings.NewReplacer(
		"localhost/6667", strings.Replace(ircAddr, ":", "/", 1),
		"localhost/6697", strings.Replace(ircAddr, ":", "/", 1),
		"-nicks=alice", "-nicks="+nick,
		"$FP", fingerprint,
	).Replace(arg)
}

// runWeeChat starts weechat-headless with its FIFO and logs in temporary directories, then
// command (what the README gives -r).
func runWeeChat(t *testing.T, bin, nick, command string) *weechatClient {
	t.Helper()
	home, logs := t.TempDir(), t.TempDir()
	c := &weechatClient{t: t, fifo: filepath.Join(home, "fifo"), logs: logs, done: make(chan error, 1)}
	setup := strings.Join([]string{
		"/set fifo.file.path " + c.fifo,
		"/set logger.file.path " + logs,
		"/set logger.file.flush_delay 0", // lines reach the file as they are shown
		"/set irc.server_default.username " + nick,
		command,
	}, ";")
	t.Logf("weechat -r %q", command)
	cmd := exec.Command(bin, "--dir", home, "--run-command", setup)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start weechat-headless: %v", err)
	}
	go func() { c.done <- cmd.Wait() }()
	c.kill = sync.OnceFunc(func() {
		cmd.Process.Kill()
		<-c.done
	})
	t.Cleanup(c.kill)
	return c
}

func startWeeChat(t *testing.T, ircAddr, nick string) *weechatClient {
	t.Helper()
	bin := needClient(t, "weechat-headless", "weechat-headless")
	c := runWeeChat(t, bin, nick, readmeWeeChat(t, ircAddr, nick, "", "localhost/6667"))
	c.registered(nick)
	return c
}

// registered waits until WeeChat is in #lobby, where hubbub puts every new user: generously,
// as WeeChat takes its time to start on a loaded machine.
func (c *weechatClient) registered(nick string) {
	c.t.Helper()
	waitFileWithin(c.t, 3*chattest.Timeout, filepath.Join(c.logs, "irc.hubbub.#lobby.weechatlog"), nick, "has joined #lobby")
}

// command writes text to the buffer of the channel (the server's buffer before there is one).
func (c *weechatClient) command(text string) {
	c.t.Helper()
	buffer := "irc.server.hubbub"
	if c.channel != "" {
		buffer = "irc.hubbub." + c.channel
	}
	f, err := os.OpenFile(c.fifo, os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatalf("weechat's fifo: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(buffer + " *" + text + "\n"); err != nil {
		c.t.Fatalf("weechat's fifo: %v", err)
	}
}

func (c *weechatClient) seesIn(channel string, parts ...string) {
	c.t.Helper()
	waitFile(c.t, filepath.Join(c.logs, "irc.hubbub."+strings.ToLower(channel)+".weechatlog"), parts...)
}

func (c *weechatClient) join(channel string) {
	c.t.Helper()
	c.command("/join " + channel)
	c.channel = channel
	c.seesIn(channel, "has joined "+channel)
}

func (c *weechatClient) say(text string)    { c.t.Helper(); c.command(text) }
func (c *weechatClient) act(text string)    { c.t.Helper(); c.command("/me " + text) }
func (c *weechatClient) part(reason string) { c.t.Helper(); c.command("/part " + reason) }
func (c *weechatClient) quit(reason string) { c.t.Helper(); c.command("/quit " + reason) }

// seesLine: WeeChat's log has the time, the nick (with "@" for the room's owner) and the text
// separated by tabs.
func (c *weechatClient) seesLine(nick, text string) {
	c.t.Helper()
	c.seesIn(c.channel, nick+"\t"+text)
}

func (c *weechatClient) seesAction(nick, text string) {
	c.t.Helper()
	c.seesIn(c.channel, "\t *\t"+nick+" "+text)
}

// TestRealWeeChat: WeeChat talks with a line user and a browser user in one room.
func TestRealWeeChat(t *testing.T) {
	needClient(t, "weechat-headless", "weechat-headless")
	_, addrs := startMain(t, nil)
	talkInOneRoom(t, addrs, "wendy", func() ircClient { return startWeeChat(t, addrs["irc"], "wendy") })
}

// readmeFingerprint runs the README's FP= line on the self-signed certificate in dataDir, and
// returns what it sets FP to.
func readmeFingerprint(t *testing.T, dataDir string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.SplitSeq(string(readme), "\n") {
		if strings.HasPrefix(l, "FP=$(") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("README.md has no FP=$(...) line")
	}
	line = strings.ReplaceAll(line, "~/.local/share/hubbub", dataDir)
	out, err := exec.Command("sh", "-c", line+`; printf %s "$FP"`).Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return string(out)
}

// TestRealWeeChatOverTLS: WeeChat, with the README's command for the version installed,
// refuses hubbub's self-signed certificate until told its fingerprint as the README says; then
// it joins a room over TLS and talks with an nc user both ways.
func TestRealWeeChatOverTLS(t *testing.T) {
	bin := needClient(t, "weechat-headless", "weechat-headless")
	tlsOption := " -tls "
	if weechatMajor(t, bin) < 4 {
		tlsOption = " -ssl "
	}
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	fingerprint := readmeFingerprint(t, m.cfg.DataDir)
	if want := strings.ReplaceAll(tlsconf.Fingerprint(m.certs.Leaf()), ":", ""); fingerprint != want {
		t.Fatalf("the README's FP= line gives %q; the log's sha256= without its colons is %q", fingerprint, want)
	}

	refused := runWeeChat(t, bin, "wally", readmeWeeChat(t, addrs["irc-tls"], "wally", "", "localhost/6697", tlsOption))
	waitFileWithin(t, 3*chattest.Timeout, filepath.Join(refused.logs, "irc.server.hubbub.weechatlog"), "TLS handshake failed")
	refused.kill()
	// WeeChat (GnuTLS) hangs up without an alert: the server counts its refusal as closed.
	failures := func(reason string) string {
		return `hubbub_tls_handshake_failures_total{reason="` + reason + `",service="irc-tls"}`
	}
	var page string
	chattest.WaitFor(t, "WeeChat's refusal counted", func() bool {
		_, page = get(t, "http://"+addrs["admin"]+"/metrics")
		n, _ := metricValue(page, failures("closed"))
		return n >= 1
	})
	for _, reason := range []string{"rejected", "protocol", "not_tls"} {
		if n, _ := metricValue(page, failures(reason)); n != 0 {
			t.Errorf("WeeChat's refusal counted as %s too (%v)", reason, n)
		}
	}

	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/join attic")
	nc.Expect("*** you made #attic and own it: plain lines now go there")
	w := runWeeChat(t, bin, "wendy", readmeWeeChat(t, addrs["irc-tls"], "wendy", fingerprint, "localhost/6697", tlsOption))
	w.registered("wendy")
	w.join("#attic")
	readUntil(t, nc, "wendy has joined #attic")
	w.say("hello over TLS")
	readUntil(t, nc, "<wendy> hello over TLS")
	w.act("waves over TLS")
	readUntil(t, nc, "* wendy waves over TLS")
	nc.Send("hello from termy")
	w.seesLine("termy", "hello from termy")
	w.quit("bye from wendy")
	readUntil(t, nc, "wendy has left the channel. (quit: bye from wendy)")
}

// TestREADMEIRCNickRefusals: what the README's IRC section says a look-alike nick and a nick
// that mixes scripts get is what an IRC client gets: the numeric that follows each example in
// the README, then the server's own words.
func TestREADMEIRCNickRefusals(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, bullet, _ := strings.Cut(string(readme), "- **Nicks follow hubbub's name rule.**")
	bullet, _, _ = strings.Cut(bullet, "\n- ")
	bullet = strings.Join(strings.Fields(bullet), " ")
	_, addrs := startMain(t, nil)
	chattest.Join(t, addrs["chat"], "ace")
	for _, nick := range []string{"асе", "аlice"} { // all Cyrillic; a Cyrillic а among Latin
		irc := chattest.Dial(t, addrs["irc"])
		irc.Send("NICK " + nick)
		irc.Send("USER x 0 * :x")
		line := irc.ReadLine()
		var numeric, reason string
		if rest, ok := strings.CutPrefix(line, ":hubbub "); ok {
			numeric, rest, _ = strings.Cut(rest, " ")
			_, reason, _ = strings.Cut(rest, " :")
		}
		if numeric != "432" && numeric != "433" {
			t.Fatalf("NICK %s: %q", nick, line)
		}
		_, after, ok := strings.Cut(bullet, "`"+nick+"`")
		if !ok {
			t.Fatalf("README.md's nick bullet does not name `%s`", nick)
		}
		said := regexp.MustCompile("`(4[0-9][0-9])` `([^`]*)`").FindStringSubmatch(after)
		if said == nil || said[1] != numeric || said[2] != reason {
			t.Errorf("NICK %s gets %s %q; README.md says %q", nick, numeric, reason, said)
		}
	}
}

// TestRealIrssiOverTLS: irssi told to check hubbub's self-signed certificate refuses it, and
// refuses it pinned to another fingerprint; pinned to the log's sha256= as the README says, it
// joins a room over TLS and talks with an nc user both ways.
func TestRealIrssiOverTLS(t *testing.T) {
	needClient(t, "irssi", "irssi")
	m, addrs, _ := startTLSMain(t, func(c *Config) { c.TLS.SelfSigned = true })
	fingerprint := tlsconf.Fingerprint(m.certs.Leaf())
	other := "00" + fingerprint[2:]
	if fingerprint[:2] == "00" {
		other = "FF" + fingerprint[2:]
	}
	host, port := splitAddr(t, addrs["irc-tls"])

	irc := runIrssi(t, "irene")
	irc.term.typeLine("/connect -tls -tls_verify " + host + " " + port)
	irc.term.expect("Could not verify")
	irc.term.typeLine("/connect -tls -tls_pinned_cert " + other + " " + host + " " + port)
	irc.term.expect("Pinned certificate mismatch")

	nc := chattest.Join(t, addrs["chat"], "termy")
	nc.Send("/join attic")
	nc.Expect("*** you made #attic and own it: plain lines now go there")
	irc.term.typeLine("/connect -tls -tls_pinned_cert " + fingerprint + " " + host + " " + port)
	irc.registered("irene")
	irc.join("#attic")
	readUntil(t, nc, "irene has joined #attic")
	irc.say("hello over TLS")
	readUntil(t, nc, "<irene> hello over TLS")
	nc.Send("hello from termy")
	irc.seesLine("termy", "hello from termy")
	irc.quit("bye from irene")
	readUntil(t, nc, "irene has left the channel. (quit: bye from irene)")
}
