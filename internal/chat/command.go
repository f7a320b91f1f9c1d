package chat

import (
	"errors"
	"strconv"
	"strings"

	"hubbub/internal/safetext"
)

// Bounds on what users set, in bytes.
const (
	maxQuitReason = 200
	maxAway       = 200
	maxTopic      = 300
	maxReason     = 200
)

type command struct {
	name  string
	args  string // usage of the arguments, for /help
	about string
	more  []string // what /help NAME adds: examples of use
	// anyone: the command works before a name is chosen
	anyone bool
	run    func(s *Session, args string) error
}

func (c *command) usage() string {
	if c.args == "" {
		return "/" + c.name
	}
	return "/" + c.name + " " + c.args
}

// commandTable returns the commands in the order /help lists them.
func commandTable() []command {
	return []command{
		{name: "help", args: "[COMMAND]", about: "list the commands, or explain one", anyone: true, run: (*Session).cmdHelp,
			more: []string{"/help ban     explains /ban, with examples"}},
		{name: "join", args: "ROOM", about: "join a room (made if new) and talk there", run: (*Session).cmdJoin,
			more: []string{"/join go      joins #go; if nobody is there, you make it and own it",
				"/join a room you are in to talk there again"}},
		{name: "part", args: "[ROOM]", about: "leave a room (the current one)", run: (*Session).cmdPart,
			more: []string{"/part go      leaves #go; leaving your last room takes you back to #lobby"}},
		{name: "rooms", about: "list the rooms", run: (*Session).cmdRooms,
			more: []string{"the busiest first, with how many are in each and its topic"}},
		{name: "who", args: "[ROOM]", about: "list who is in a room", run: (*Session).cmdWho,
			more: []string{"/who go       lists who is in #go, marking the owner, operators and who is away"}},
		{name: "topic", args: "[TEXT|-]", about: "show or set the room's topic; - clears it", run: (*Session).cmdTopic,
			more: []string{"/topic release on Friday    sets it (the room's owner and operators may)",
				"/topic -      clears it"}},
		{name: "nick", args: "NAME", about: "change your name", run: (*Session).cmdNick,
			more: []string{"/nick alicia  you keep your rooms; a name that looks like one online is taken"}},
		{name: "register", about: "claim your name with a password", run: (*Session).cmdRegister,
			more: []string{"/register     asks for a password twice; next time, choosing your name asks for it"}},
		{name: "password", about: "change your account's password", run: (*Session).cmdPassword,
			more: []string{"/password     asks for the current password, then the new one twice"}},
		{name: "logout", about: "end your account's sessions on other devices", run: (*Session).cmdLogout,
			more: []string{"/logout       disconnects your other devices and ends web logins elsewhere"}},
		{name: "unregister", about: "delete your account and its private history", run: (*Session).cmdUnregister,
			more: []string{"/unregister   asks for your password; you stay, as a guest"}},
		{name: "msg", args: "NAME TEXT", about: "send a private message", run: (*Session).cmdMsg,
			more: []string{"/msg bob see you at 5      only bob sees it, as [PM from YOURNAME]"}},
		{name: "reply", args: "TEXT", about: "answer the last private message", run: (*Session).cmdReply,
			more: []string{"/reply on my way      goes to whoever sent you a private message last"}},
		{name: "me", args: "ACTION", about: "say what you are doing", run: (*Session).cmdMe,
			more: []string{"/me waves     shows * YOURNAME waves"}},
		{name: "away", args: "[REASON]", about: "mark yourself away, or back with no reason", run: (*Session).cmdAway,
			more: []string{"/away lunch   whoever sends you a private message is told why", "/away         you are back"}},
		{name: "whois", args: "NAME", about: "show who someone is", run: (*Session).cmdWhois,
			more: []string{"/whois bob    shows bob's rooms, time online, and why bob is away"}},
		{name: "ignore", args: "[NAME]", about: "hide someone's lines and messages; list them", run: (*Session).cmdIgnore,
			more: []string{"/ignore bob   until one of you leaves; bob is not told", "/ignore       lists whom you ignore"}},
		{name: "unignore", args: "NAME", about: "see someone's lines again", run: (*Session).cmdUnignore,
			more: []string{"/unignore bob"}},
		{name: "oper", args: "PASSWORD", about: "become an operator", run: (*Session).cmdOper,
			more: []string{"/oper PASSWORD    the server's operator password; after a wrong one, wait before trying again"}},
		{name: "kick", args: "NAME [REASON]", about: "put someone out of this room (owner, operator)", run: (*Session).cmdKick,
			more: []string{"/kick bob spamming      puts bob out of this room; out of #lobby means out of the chat (operators only)"}},
		{name: "mute", args: "NAME [DURATION]", about: "silence someone, 10m by default (operator)", run: (*Session).cmdMute,
			more: []string{"/mute bob 30m     refuses bob's lines, actions and messages for 30 minutes"}},
		{name: "unmute", args: "NAME", about: "let someone talk again (operator)", run: (*Session).cmdUnmute,
			more: []string{"/unmute bob"}},
		{name: "ban", args: "[NAME|ADDRESS [DURATION]]", about: "refuse a name or address; list bans (operator)", run: (*Session).cmdBan,
			more: []string{"/ban bob 1h   refuses the name bob and its look-alikes for an hour",
				"/ban 203.0.113.0/24    refuses an address or network (IPv6: /ban 2001:db8::/48) until /unban",
				"/ban          lists the bans"}},
		{name: "unban", args: "NAME|ADDRESS", about: "lift a ban (operator)", run: (*Session).cmdUnban,
			more: []string{"/unban bob    or /unban 203.0.113.0/24, as the ban was given"}},
		{name: "history", args: "[NAME] [N]", about: "show earlier lines here, or with NAME", run: (*Session).cmdHistory,
			more: []string{"/history 50   the 50 lines before those you were shown; again for earlier ones",
				"/history bob  your private messages with bob, kept when you both have accounts (/register)"}},
		{name: "search", args: "WORDS", about: "find lines here with every word, newest first", run: (*Session).cmdSearch,
			more: []string{"/search release date    the lines of this room with both words"}},
		{name: "quit", args: "[REASON]", about: "leave the chat", anyone: true, run: (*Session).cmdQuit,
			more: []string{"/quit see you tomorrow      the others are told why you left"}},
	}
}

// CommandHelp describes one command as /help shows it.
type CommandHelp struct{ Usage, About string }

// Commands returns every command, in the order /help lists them.
func Commands() []CommandHelp {
	var out []CommandHelp
	for _, c := range commandTable() {
		out = append(out, CommandHelp{c.usage(), c.about})
	}
	return out
}

func (h *Hub) lookupCommand(name string) *command {
	for i := range h.commands {
		if h.commands[i].name == name {
			return &h.commands[i]
		}
	}
	return nil
}

// command runs the command line typed after its leading '/'.
func (s *Session) command(line string) error {
	name, args, _ := strings.Cut(line, " ")
	name = strings.ToLower(name)
	c := s.hub.lookupCommand(name)
	switch {
	case c == nil:
		s.noticef("unknown command /%s, try /help", safetext.CleanString(safetext.Truncate(name, 32)))
		return nil
	case !c.anyone && !s.registered:
		s.notice("choose a name first")
		return nil
	}
	return c.run(s, strings.TrimSpace(args))
}

// usage tells the user how a command is used.
func (s *Session) usage(name string) error {
	s.noticef("usage: %s", s.hub.lookupCommand(name).usage())
	return nil
}

// firstWord splits args into its first word and the rest, trimmed.
func firstWord(args string) (string, string) {
	word, rest, _ := strings.Cut(args, " ")
	return word, strings.TrimSpace(rest)
}

// clean makes text typed by a user safe to show and cuts it to max bytes.
func clean(text string, max int) string {
	return strings.TrimSpace(safetext.Truncate(safetext.CleanString(text), max))
}

func (s *Session) cmdHelp(args string) error {
	if args != "" {
		c := s.hub.lookupCommand(strings.ToLower(strings.TrimPrefix(args, "/")))
		if c == nil {
			s.noticef("no command /%s, try /help", clean(args, 32))
			return nil
		}
		s.noticef("%s: %s", c.usage(), c.about)
		for _, line := range c.more {
			s.notice("  " + line)
		}
		return nil
	}
	// As wide as the longest usage, so that every explanation starts in one column.
	width := len("//TEXT")
	for _, c := range s.hub.commands {
		width = max(width, len(c.usage()))
	}
	s.notice("commands (/help COMMAND for examples):")
	for _, c := range s.hub.commands {
		s.noticef("  %-*s  %s", width, c.usage(), c.about)
	}
	s.noticef("  %-*s  %s", width, "//TEXT", "say a line that starts with /")
	return nil
}

func (s *Session) cmdQuit(args string) error {
	// Marked as the user's own words, so that a reason cannot pass for a kick's or a ban's.
	if reason := clean(args, maxQuitReason); reason != "" {
		s.quitReason = "quit: " + reason
	}
	s.narrate("goodbye")
	return ErrQuit
}

func (s *Session) cmdMe(args string) error {
	action := clean(args, 1<<20)
	if action == "" {
		return s.usage("me")
	}
	s.say(KindAction, action)
	return nil
}

func (s *Session) cmdNick(args string) error {
	if args == "" || strings.Contains(args, " ") {
		return s.usage("nick")
	}
	if _, err := ParseName(args); err == nil && s.refuseIfMuted() {
		return nil // said once a minute, not at each try
	}
	s.tell(s.Nick(args))
	return nil
}

// Nick renames the member, on all its devices, and tells everyone who shares a room with it.
func (s *Session) Nick(name string) error {
	n, err := ParseName(name)
	if err == nil && s.hub.isReserved(n) {
		err = badName("that name is reserved")
	}
	if bad, ok := err.(*NameError); ok {
		return fail(CodeBadName, "%s", bad.Reason)
	}
	if left := s.muted(); left > 0 {
		return fail(CodeMuted, "you are muted for another %v", left.Round(1e9))
	}
	h := s.hub
	s.waitStored() // "bob is now known as bo" after bob's last line, not before
	acc, has, err := h.findAccount(n)
	if err != nil {
		h.log.Error("nick", "err", err)
		return fail(CodeUnavailable, "the server cannot check names just now, please try again later")
	}
	if !h.lockLive(s) {
		return nil
	}
	old := s.name()
	if err := s.mayRenameLocked(n, acc, has); err != nil || old.Display == n.Display {
		h.mu.Unlock()
		return err
	}
	id := s.member.id
	h.mu.Unlock()
	// Claimed with no lock held: a cluster's registry answers over the network.
	err = h.claims.Rename(old, n, id)
	live := h.lockLive(s)
	switch {
	case err != nil:
		if !errors.Is(err, ErrNameHeld) {
			h.log.Error("names: a name could not be claimed", "err", err)
			err = fail(CodeUnavailable, "the server cannot check names just now, please try again later")
		} else {
			err = fail(CodeNameInUse, "%s is taken", n.Display)
		}
		if live {
			h.mu.Unlock()
		}
		return err
	case !live: // gone meanwhile, having released the old name
		h.claims.Release(n, id)
		return nil
	case s.name().Display != old.Display || h.bans.nameBannedLocked(n, h.now()):
		// Another device renamed the member meanwhile, or the name was banned: the member
		// keeps the name it has now.
		if err := h.claims.Rename(n, s.name(), id); err != nil {
			h.log.Error("names: a name could not be given back", "err", err)
		}
		h.mu.Unlock()
		return fail(CodeNameInUse, "%s cannot be taken just now", n.Display)
	}
	defer h.mu.Unlock()
	h.names.remove(old, s.member)
	h.names.add(n, s.member)
	h.note(KindNick, nil, s.member, n.Display)
	s.setName(n)
	h.showLocked(s.member)
	keys := make([]string, len(s.rooms))
	for i, r := range s.rooms {
		keys[i] = r.key()
	}
	h.publish(Event{Rooms: keys, Msg: &Message{Kind: KindNick, From: old.Display, Text: n.Display}, From: s.origin()})
	h.log.Info("nick", "from", old.Display, "to", n.Display)
	return nil
}

// mayRenameLocked fails unless the member may take the name n, whose account (if has) is acc.
func (s *Session) mayRenameLocked(n Name, acc Account, has bool) error {
	h := s.hub
	if has && acc.Name != s.account {
		return fail(CodeNameRegistered, "%s is registered: choose another name", n.Display)
	}
	if !has && h.isOperatorAccount(n.Display) {
		return fail(CodeNameRegistered, "%s is kept for an operator: choose another name", n.Display)
	}
	if holder, taken := h.names.find(n); taken && holder != s.member {
		return fail(CodeNameInUse, "%s is taken", n.Display)
	}
	if h.bans.nameBannedLocked(n, h.now()) {
		return fail(CodeNameBanned, "that name is banned")
	}
	return nil
}

func (s *Session) cmdMsg(args string) error {
	name, text := firstWord(args)
	if name == "" || text == "" {
		return s.usage("msg")
	}
	err := s.Private(name, text)
	if e, ok := err.(*Error); ok && e.Code == CodeMuted {
		s.refuseIfMuted() // said once a minute, not at each try
		return nil
	}
	s.tell(err)
	return nil
}

func (s *Session) cmdReply(args string) error {
	if args == "" {
		return s.usage("reply")
	}
	text := clean(args, 1<<20) // not under the lock
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	// The answer goes to whoever wrote, never to whoever holds its name now: the same guest,
	// or the same account, from whichever device or node it is on.
	from := s.lastFrom.Load()
	var to *member
	if from != nil {
		to = h.replyTargetLocked(from)
	}
	switch {
	case from == nil:
		s.notice("no one has sent you a private message")
	case to == nil:
		s.noticef("%s, who wrote to you, has left: your reply was not sent (someone called %s now would be someone else)",
			from.name, from.name)
	default:
		h.mu.Unlock()
		if !s.refuseIfMuted() {
			s.sendPrivate(to, text, false)
		}
		return nil
	}
	h.mu.Unlock()
	return nil
}

// Private sends text to the member called name, marked private at both ends, on all the
// devices of both.
func (s *Session) Private(name, text string) error { return s.private(name, text, false) }

// PrivateNotice is Private, the message marked as a notice (Message.Notice): IRC's NOTICE.
func (s *Session) PrivateNotice(name, text string) error { return s.private(name, text, true) }

func (s *Session) private(name, text string, notice bool) error {
	text = clean(text, 1<<20) // not under the lock
	if text == "" {
		return fail(CodeNeedArgs, "no text to send")
	}
	h := s.hub
	if !h.lockLive(s) {
		return nil
	}
	to, ok := h.findLocked(name)
	h.mu.Unlock()
	switch {
	case !ok:
		return fail(CodeNoSuchName, "no one called %s is online", clean(name, MaxNameLen*4))
	case to == s.member:
		return fail(CodeNotOnSelf, "that is you")
	}
	if left := s.muted(); left > 0 {
		return fail(CodeMuted, "you are muted for another %v", left.Round(1e9))
	}
	s.sendPrivate(to, text, notice)
	return nil
}

// sendPrivate shows text, already cleaned, to the member to and to s's member, marked private
// at both ends, on all their devices. Between two accounts it is kept first, under the
// accounts' IDs, so that those two accounts, and nobody who later takes either name, can read
// it back. With a guest on either side it is kept nowhere: a guest's name belongs to whoever
// holds it next. s is told so the first time.
func (s *Session) sendPrivate(to *member, text string, notice bool) {
	if text == "" {
		return
	}
	h := s.hub
	s.flushLines()
	if !h.lockLive(s) {
		return
	}
	from := s.member
	rec := Record{Time: h.now(), Kind: KindPrivate, From: from.name().Display, FromKey: from.name().looks[0],
		To: to.name().Display, ToKey: to.name().looks[0], Text: text, Notice: notice}
	if from.account == "" || to.account == "" || h.cfg.History == nil || h.cfg.NoPrivateHistory {
		if s.storing() {
			// Behind the lines s said before, which wait for the history: a paste of a line
			// and a /msg is read in the order it was typed.
			h.mu.Unlock()
			s.afterStored(func() {
				h.mu.Lock()
				defer h.mu.Unlock()
				s.privateUnkeptLocked(to, rec)
			})
			return
		}
		defer h.mu.Unlock()
		s.privateUnkeptLocked(to, rec)
		return
	}
	rec.FromKey, rec.ToKey = accountKey(from.accountID), accountKey(to.accountID)
	h.mu.Unlock()
	s.store(rec, func(rec Record, err error) {
		if err != nil {
			s.storeFailed(err)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.deliverPrivateLocked(s, to, rec)
	})
}

// flushLines returns once the lines s said before that wait for another publisher to deliver
// them (see lineFlusher) are delivered: a private message, which has an order of its own,
// must not overtake them (a paste of a line and a /msg). It waits with no lock held, since the
// room's turn may deliver many lines. Called by the reading goroutine, the one that says s's
// lines.
func (s *Session) flushLines() {
	h := s.hub
	f, ok := h.bus.(lineFlusher)
	if !ok || !h.lockLive(s) {
		return
	}
	var keys [8]string
	rooms := keys[:0]
	for _, r := range s.rooms {
		rooms = append(rooms, r.key())
	}
	h.mu.Unlock()
	for _, key := range rooms {
		f.Flush(key)
	}
}

// privateUnkeptLocked shows a private message kept nowhere, and tells its sender so the first
// time.
func (s *Session) privateUnkeptLocked(to *member, rec Record) {
	from := s.member
	s.hub.deliverPrivateLocked(s, to, rec)
	// Not in answer to a notice, which nothing answers (IRC's NOTICE): the next message is
	// told instead.
	if !from.toldPrivateUnkept && !s.gone && !rec.Notice {
		from.toldPrivateUnkept = true
		if from.account == "" || to.account == "" {
			s.notice("private messages with guests are kept nowhere: they are shown to the two of you now, and are not in /history")
		} else {
			s.notice("this server keeps private messages nowhere: they are shown to the two of you now, and are not in /history")
		}
	}
}

// accountKey is what private history between accounts is kept under: the account's ID, which
// is never reused, rather than its name.
func accountKey(id int64) string { return "@" + strconv.FormatInt(id, 10) }

// deliverPrivateLocked shows a private message from device from to the member to.
func (h *Hub) deliverPrivateLocked(from *Session, to *member, rec Record) {
	if to.left && to.account != "" {
		if back := h.byAccount[to.accountID]; back != nil {
			to = back // the same account, back while the message was being kept
		}
	}
	if to.left {
		if from.gone {
			return
		}
		from.noticef("%s left before your message reached them", to.name().Display)
		return
	}
	// Both copies go through the bus, to each member's own node (the recipient's drops it if
	// it ignores the sender, and keeps whom to /reply to if not).
	origin := from.origin()
	origin.Account = from.accountID
	ev := Event{To: to.id, Msg: liveMessage(rec), From: origin}
	if rec.ID != 0 { // kept: between accounts
		ev.Record = &rec
	}
	h.publish(ev)
	sent := liveMessage(rec)
	sent.Sent = true
	h.publish(Event{To: from.member.id, Msg: sent, From: Origin{Device: from.id}})
	if to.away != "" && !from.gone {
		from.narrate(to.name().Display + " is away: " + to.away) // IRC answers 301 from Whois
	}
}
