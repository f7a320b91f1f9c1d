package ircproto

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"hubbub/internal/chat"
)

// command runs one command of a registered client.
func (c *client) command(m message) error {
	switch m.command {
	case "PING":
		c.send(":" + serverName + " PONG " + serverName + " :" + cut(m.arg(0)))
	case "PONG":
	case "CAP":
		c.cap(m)
	case "NICK":
		c.nickCmd(m)
	case "USER", "PASS":
		c.reply("462", "You may not reregister")
	case "AUTHENTICATE":
		c.reply("907", "You have already authenticated using SASL")
	case "JOIN":
		c.join(m)
	case "PART":
		c.part(m)
	case "PRIVMSG", "NOTICE":
		c.privmsg(m)
	case "TAGMSG":
		// A TAGMSG carries client tags only, and every client tag is refused (CLIENTTAGDENY=*
		// in 005): there is nothing to relay, and nothing to refuse out loud either.
		if m.arg(0) == "" {
			c.reply("461", "TAGMSG", "Not enough parameters")
		}
	case "TOPIC":
		c.topic(m)
	case "NAMES":
		if m.arg(0) == "" {
			// The client's own channels: what it wants to know, and a bounded answer.
			c.mu.Lock()
			rooms := slices.Clone(c.joined)
			c.mu.Unlock()
			slices.Sort(rooms)
			for _, room := range rooms {
				c.names(room)
			}
			if len(rooms) == 0 {
				c.reply("366", "*", "End of /NAMES list")
			}
			break
		}
		if strings.Count(m.arg(0), ",")+1 > maxTargets {
			// One channel a line (TARGMAX): a list of a thousand would be a thousand lists.
			c.reply("407", safeParam(m.arg(0)), "too many targets: ask for one channel at a time")
			break
		}
		c.names(m.arg(0))
	case "WHO":
		c.who(m)
	case "WHOIS":
		c.whois(m)
	case "LIST":
		c.list(m)
	case "AWAY":
		if err := c.sess.Away(m.arg(0)); err != nil {
			c.fail(err)
		} else if m.arg(0) == "" {
			c.reply("305", "You are no longer marked as being away")
		} else {
			c.reply("306", "You have been marked as being away")
		}
	case "QUIT":
		reason := "/quit"
		if r := m.arg(0); r != "" {
			reason += " " + r
		}
		c.quitting = true
		c.sess.Handle([]byte(reason)) // the chat's quit, with the reason marked as the user's
		c.send("ERROR :Closing link")
		return chat.ErrQuit
	case "KICK":
		c.kick(m)
	case "MODE":
		c.mode(m)
	case "ISON":
		c.ison(m)
	case "USERHOST":
		c.userhost(m)
	case "OPER":
		c.oper(m)
	case "MOTD":
		c.motdCmd()
	default:
		c.reply("421", safeParam(m.command), "Unknown command")
	}
	return nil
}

func (c *client) nickCmd(m message) {
	want := m.arg(0)
	if want == "" {
		c.reply("431", "No nickname given")
		return
	}
	if !nickAllowed(want) {
		c.reply("432", safeParam(want), nickRule)
		return
	}
	if err := c.sess.Nick(hubbubName(want)); err != nil {
		c.fail(err, safeParam(want))
	}
}

func (c *client) join(m message) {
	if len(m.params) == 0 {
		c.reply("461", "JOIN", "Not enough parameters")
		return
	}
	if m.params[0] == "0" {
		// Every channel but the lobby, where every member of the chat stays: each part told
		// with its PART, as a PART of the list would be.
		c.mu.Lock()
		var rooms []string
		for _, room := range c.joined {
			if !sameRoom(room, chat.Lobby) {
				rooms = append(rooms, room)
			}
		}
		c.mu.Unlock()
		if len(rooms) > 0 {
			slices.Sort(rooms)
			c.part(message{command: "PART", params: []string{strings.Join(rooms, ",")}})
		}
		return
	}
	for _, room := range strings.Split(m.params[0], ",") {
		if room == "" {
			continue
		}
		if !strings.HasPrefix(room, "#") {
			c.reply("403", safeParam(room), "No such channel: channels start with #")
			continue
		}
		c.mu.Lock()
		known := false
		for _, r := range c.joined {
			if sameRoom(r, hubbubName(room)) {
				known = true
			}
		}
		c.mu.Unlock()
		if known {
			continue // already in: a client's autojoin of a channel it is in is no error
		}
		if err := c.sess.Join(hubbubName(room)); err != nil {
			if e, ok := err.(*chat.Error); ok && e.Code == chat.CodeBadName {
				c.reply("403", safeParam(room), e.Text) // a channel's name, not a nick
				continue
			}
			c.fail(err, safeParam(room))
		}
		c.sendPending()
	}
}

// sameRoom reports whether two room names name one room, as the chat compares them.
func sameRoom(a, b string) bool {
	na, err1 := chat.ParseRoom(a)
	nb, err2 := chat.ParseRoom(b)
	return err1 == nil && err2 == nil && na.Key == nb.Key
}

func (c *client) part(m message) {
	if len(m.params) == 0 {
		c.reply("461", "PART", "Not enough parameters")
		return
	}
	for _, room := range strings.Split(m.params[0], ",") {
		name, ok := c.roomJoined(room)
		if !ok {
			if err := c.sess.Part(hubbubName(room), m.arg(1)); err != nil {
				c.fail(err, safeParam(room))
			}
			continue
		}
		if err := c.sess.Part(name, m.arg(1)); err != nil {
			c.fail(err, safeParam(room))
			continue
		}
		c.mu.Lock()
		c.joined.remove(name)
		me := c.me
		c.mu.Unlock()
		c.conn.Send(nil, appendLine(nil, "", mask(me), "PART", partParams(name, m.arg(1))...))
	}
}

// roomJoined returns the display name of the joined room that room names.
func (c *client) roomJoined(room string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.joined {
		if sameRoom(r, hubbubName(room)) {
			return r, true
		}
	}
	return "", false
}

func (c *client) privmsg(m message) {
	notice := m.command == "NOTICE"
	switch {
	case len(m.params) == 0 || m.params[0] == "":
		if !notice {
			c.reply("411", "No recipient given ("+m.command+")")
		}
		return
	case len(m.params) < 2 || m.params[1] == "":
		if !notice {
			c.reply("412", "No text to send")
		}
		return
	}
	target, text := m.params[0], m.params[1]
	if strings.Count(target, ",")+1 > maxTargets {
		// Nothing of it is sent, so one line cannot become many messages; a NOTICE is dropped
		// without a word, as its errors are.
		if !notice {
			c.reply("407", safeParam(target), "too many targets: send to one nick or channel at a time")
		}
		return
	}
	ctcp := ""
	if strings.HasPrefix(text, "\x01") {
		verb, rest, _ := strings.Cut(strings.Trim(text, "\x01"), " ")
		switch strings.ToUpper(verb) {
		case "ACTION":
			ctcp, text = "\x01ACTION ", rest
		case "VERSION", "PING", "TIME", "CLIENTINFO":
			// Answered here, never passed on: a CTCP would reach a telnet user as junk.
			if !notice {
				answer := "hubbub"
				switch strings.ToUpper(verb) {
				case "PING":
					answer = rest
				case "TIME":
					answer = time.Now().UTC().Format(time.RFC1123)
				case "CLIENTINFO":
					answer = "ACTION PING TIME VERSION"
				}
				from := serverName // a channel asked: the server answers, not a "user" named #lobby
				if !strings.HasPrefix(target, "#") {
					from = mask(hubbubName(target))
				}
				c.send(":" + from + " NOTICE " + c.nick() + " :\x01" + strings.ToUpper(verb) + " " + cut(answer) + "\x01")
			}
			return
		default:
			return
		}
	}
	// A NOTICE reaches IRC clients as a NOTICE (chat.Message.Notice), so that their bots do
	// not answer it; telnet and web users see it as any line. An ACTION is an action either way.
	var err error
	switch {
	case strings.HasPrefix(target, "#") && ctcp != "":
		err = c.sess.Action(hubbubName(target), text)
	case strings.HasPrefix(target, "#") && notice:
		err = c.sess.SayNotice(hubbubName(target), text)
	case strings.HasPrefix(target, "#"):
		err = c.sess.Say(hubbubName(target), text)
	case ctcp != "":
		err = c.sess.Private(hubbubName(target), "* "+c.sess.Name()+" "+text)
	case notice:
		err = c.sess.PrivateNotice(hubbubName(target), text)
	default:
		err = c.sess.Private(hubbubName(target), text)
	}
	var e *chat.Error
	switch {
	case err == nil:
	case notice:
		return // never an automatic reply to a NOTICE, not even an error (RFC 2812, 3.3.2)
	case strings.HasPrefix(target, "#") && asError(err, &e) && e.Code == chat.CodeNotInRoom:
		// The channel is +n (324): what servers say to a message from outside is 404.
		c.reply("404", safeParam(target), "Cannot send to channel (you are not in it: /join "+safeParam(target)+")")
		return
	default:
		c.failTarget(err, target, safeParam(target))
		return
	}
	if strings.HasPrefix(target, "#") && c.has(capEchoMessage) {
		c.echo(m.command, ircChannel(target), ctcp, text)
	}
	if !strings.HasPrefix(target, "#") && !notice {
		if f, err := c.sess.Whois(hubbubName(target)); err == nil && f.Away != "" {
			c.reply("301", safeParam(ircNick(f.Name)), f.Away) // RPL_AWAY
		}
	}
}

func (c *client) topic(m message) {
	room := m.arg(0)
	if room == "" {
		c.reply("461", "TOPIC", "Not enough parameters")
		return
	}
	if len(m.params) < 2 {
		topic, err := c.sess.RoomTopic(hubbubName(room))
		switch {
		case err != nil:
			c.fail(err, safeParam(room))
		case topic == "":
			c.reply("331", safeParam(room), "No topic is set")
		default:
			c.reply("332", safeParam(room), topic)
		}
		return
	}
	if err := c.sess.Topic(hubbubName(room), m.params[1]); err != nil {
		c.fail(err, safeParam(room))
	}
}

// names sends RPL_NAMREPLY and RPL_ENDOFNAMES for room: the owner marked '@'.
func (c *client) names(room string) {
	who, err := c.sess.Who(hubbubName(room))
	if err != nil || who.Room == "" {
		c.reply("366", safeParam(room), "End of /NAMES list")
		return
	}
	c.sendList(appendNames(nil, c.nick(), who, c.listBudget()))
}

// appendNames appends the RPL_NAMREPLYs and RPL_ENDOFNAMES that list who to nick, the names in
// at most budget bytes (see listBudgetLocked): 366 says how many were left out.
func appendNames(b []byte, nick string, who chat.RoomMembers, budget int) []byte {
	ch := ircChannel(who.Room)
	head := ":" + serverName + " 353 " + nick + " = " + ch + " :"
	// Built in place: a room of thousands is one 353 line per ~500 bytes, each made once (a
	// string grown name by name was copied as often as it had names: a quarter of the CPU of
	// 10,000 IRC users joining #lobby).
	start, empty := -1, true // where the current 353 line starts in b, and whether it has a name
	base, shown := len(b), 0
	for _, mem := range who.Members {
		entry := ircNick(mem.Name)
		owner := mem.Owner
		size := len(entry) + 1
		if owner {
			size++
		}
		if len(b)-base+size+len(head)+2 > budget {
			break // what is left would not fit: the count below says so
		}
		shown++
		if start >= 0 && !empty && len(b)-start+size > maxLine-2 {
			b = append(b, '\r', '\n')
			start = -1
		}
		if start < 0 {
			start, empty = len(b), true
			b = append(b, head...)
		}
		if !empty {
			b = append(b, ' ')
		}
		if owner {
			b = append(b, '@')
		}
		b = append(b, entry...)
		empty = false
	}
	if start >= 0 {
		b = append(b, '\r', '\n')
	}
	end := "End of /NAMES list"
	if total := max(who.Total, len(who.Members)); total > shown {
		// A large room's names are bounded (the joiner and its moderators first, as Twitch's
		// IRC lists only those above 1,000 users), and so is any answer: 366 ends them all the
		// same, and says so.
		end = fmt.Sprintf("End of /NAMES list: %d of %d shown, %s", shown, total, cutWhy(shown, who))
	}
	return append(append(b, numericLine(nick, "366", ch, end)...), '\r', '\n')
}

// cutWhy says why a list of who shows only shown members: the chat lists a large room's
// moderators and a few more only, or the answer's bound (listBudgetLocked) cut it, which a
// list of several channels, or answers the client has not read yet, make shorter.
func cutWhy(shown int, who chat.RoomMembers) string {
	if shown < len(who.Members) {
		return "the rest did not fit in this answer"
	}
	return "the channel is too large to list"
}

func (c *client) who(m message) {
	target := m.arg(0)
	nick := c.nick()
	var b []byte
	budget := c.listBudget()
	add := func(channel string, mem chat.MemberInfo) {
		flags := "H"
		if mem.Away != "" {
			flags = "G"
		}
		if mem.Operator {
			flags += "*"
		}
		if mem.Owner {
			flags += "@"
		}
		b = append(append(b, numericLine(nick, "352", channel, "u", serverName, serverName, ircNick(mem.Name), flags, "0 "+ircNick(mem.Name))...), '\r', '\n')
	}
	end := "End of /WHO list"
	switch {
	case strings.HasPrefix(target, "#"):
		who, err := c.sess.Who(hubbubName(target))
		if err == nil {
			shown := 0
			for _, mem := range who.Members {
				if len(b) >= budget-maxLine {
					break // bounded, as any list is (listBudgetLocked)
				}
				add(ircChannel(who.Room), mem)
				shown++
			}
			if total := max(who.Total, len(who.Members)); total > shown { // a large room's, bounded as its names are
				end = fmt.Sprintf("End of /WHO list: %d of %d shown, %s", shown, total, cutWhy(shown, who))
			}
		}
	case target != "":
		if f, err := c.sess.Whois(hubbubName(target)); err == nil && f.Name != "" {
			add("*", chat.MemberInfo{Name: f.Name, Operator: f.Operator, Away: f.Away})
		}
	}
	b = append(append(b, numericLine(nick, "315", safeParam(target), end)...), '\r', '\n')
	c.sendList(b)
}

func (c *client) whois(m message) {
	target := m.arg(len(m.params) - 1)
	if target == "" {
		c.reply("431", "No nickname given")
		return
	}
	f, err := c.sess.Whois(hubbubName(target))
	if err != nil || f.Name == "" {
		if err != nil {
			c.failTarget(err, target, safeParam(target))
		}
		c.reply("318", safeParam(target), "End of /WHOIS list")
		return
	}
	n := ircNick(f.Name)
	c.reply("311", n, "u", serverName, "*", n)
	// The channels on as many 319 lines as they take: a member of many long-named channels
	// would not fit one IRC line.
	head := len(numericLine(c.nick(), "319", n, "x y")) - len("x y")
	for rooms := f.Rooms; len(rooms) > 0; {
		line := ircChannel(rooms[0])
		rooms = rooms[1:]
		for len(rooms) > 0 && head+len(line)+1+len(ircChannel(rooms[0]))+len(" \r\n") <= maxLine {
			line += " " + ircChannel(rooms[0])
			rooms = rooms[1:]
		}
		c.reply("319", n, line)
	}
	c.reply("312", n, serverName, "hubbub")
	if f.Operator {
		c.reply("313", n, "is an IRC operator")
	}
	if f.Away != "" {
		c.reply("301", n, f.Away)
	}
	if f.Account != "" {
		c.reply("330", n, f.Account, "is logged in as")
	}
	c.reply("317", n, strconv.Itoa(0), strconv.FormatInt(f.Since.Unix(), 10), "seconds idle, signon time")
	c.reply("318", n, "End of /WHOIS list")
}

// list answers LIST: every channel, the busiest first, or those named (LIST #a,#b, looked up
// one by one), within the command's list budget (listBudgetLocked); 323 says how many were
// left out, and how to ask for one.
func (c *client) list(m message) {
	// A filter this server does not offer (no ELIST: "LIST >3") lists every channel.
	var rooms []chat.RoomInfo
	var named map[string]bool // the keys of the channels named, listed once each
	for _, n := range strings.Split(m.arg(0), ",") {
		if !strings.HasPrefix(n, "#") {
			continue
		}
		if named == nil {
			named = make(map[string]bool)
		}
		info, ok := c.sess.RoomInfo(hubbubName(n))
		if !ok {
			continue
		}
		if room, err := chat.ParseRoom(info.Name); err == nil && !named[room.Key] {
			named[room.Key] = true
			rooms = append(rooms, info)
		}
	}
	if named != nil {
		slices.SortStableFunc(rooms, func(a, b chat.RoomInfo) int { return b.Members - a.Members })
	} else {
		rooms = c.sess.Rooms()
	}
	nick := c.nick()
	b := append([]byte(numericLine(nick, "321", "Channel", "Users  Name")), '\r', '\n')
	shown, budget := 0, c.listBudget()
	for _, r := range rooms {
		line := numericLine(nick, "322", ircChannel(r.Name), strconv.Itoa(r.Members), cut(r.Topic))
		if len(b)+len(line)+2 > budget-maxLine {
			break
		}
		b = append(append(b, line...), '\r', '\n')
		shown++
	}
	end := "End of /LIST"
	if shown < len(rooms) {
		end = fmt.Sprintf("End of /LIST: %d of %d shown, the busiest first: LIST #channel for one", shown, len(rooms))
	}
	b = append(append(b, numericLine(nick, "323", end)...), '\r', '\n')
	c.sendList(b)
}

func (c *client) kick(m message) {
	if len(m.params) < 2 {
		c.reply("461", "KICK", "Not enough parameters")
		return
	}
	room, who := m.params[0], m.params[1]
	err := c.sess.Kick(hubbubName(room), hubbubName(who), m.arg(2))
	var e *chat.Error
	switch {
	case err == nil:
	case asError(err, &e) && e.Code == chat.CodeNoSuchName:
		c.failTarget(err, who, safeParam(who))
	case asError(err, &e) && e.Code == chat.CodeTheyNotInRoom:
		c.fail(err, safeParam(who), safeParam(room))
	default:
		c.fail(err, safeParam(room))
	}
}

// mode answers what clients ask on joining (a channel's modes, its ban list, the user's own
// modes) and refuses changes: hubbub's rights are the room's owner and the operators, shown
// as '@', and its bans are /ban's.
func (c *client) mode(m message) {
	target := m.arg(0)
	switch {
	case target == "":
		c.reply("461", "MODE", "Not enough parameters")
	case strings.HasPrefix(target, "#"):
		who, err := c.sess.Who(hubbubName(target))
		if err != nil {
			c.fail(err, safeParam(target))
			return
		}
		ch := ircChannel(who.Room)
		switch modes := m.arg(1); {
		case modes == "":
			c.reply("324", ch, "+nt")
		case strings.Trim(modes, "+") == "b" && len(m.params) == 2:
			c.banList(ch)
		default:
			c.reply("482", ch, "Channel modes cannot be changed here: the owner is @, bans are /ban")
		}
	case sameName(target, c.nick()):
		if modes := m.arg(1); modes == "" || strings.Trim(modes, "+-iwx") == "" {
			// What clients set at connect (irssi +i, others +w or +x) means nothing here and
			// needs no refusal: the answer is the modes the client has, none.
			c.reply("221", "+")
		} else {
			c.reply("501", "User modes cannot be changed here")
		}
	default:
		c.reply("502", "Can't change mode for other users")
	}
}

// banList answers MODE #chan b: the server's bans (hubbub's are the server's, not a channel's),
// to operators only (to others the list is empty), bounded as every list is (listBudgetLocked);
// 368 says how many were left out.
func (c *client) banList(ch string) {
	bans, _ := c.sess.Bans()
	nick := c.nick()
	var b []byte
	shown, budget := 0, c.listBudget()
	for _, ban := range bans {
		mask := "*!*@" + ban.Address.String() // shown to operators only, who see addresses anyway
		if ban.Name != "" {
			mask = ircNick(ban.Name) + "!*@*"
		}
		line := numericLine(nick, "367", ch, safeParam(mask))
		if len(b)+len(line)+2 > budget-maxLine {
			break
		}
		b = append(append(b, line...), '\r', '\n')
		shown++
	}
	end := "End of channel ban list"
	if shown < len(bans) {
		end = fmt.Sprintf("End of channel ban list: %d of %d shown", shown, len(bans))
	}
	b = append(append(b, numericLine(nick, "368", ch, end)...), '\r', '\n')
	c.sendList(b)
}

// sameName reports whether two nicks name one member, as the chat compares names.
func sameName(a, b string) bool {
	na, err1 := chat.ParseName(hubbubName(a))
	nb, err2 := chat.ParseName(hubbubName(b))
	return err1 == nil && err2 == nil && na.SameAs(nb)
}

func (c *client) ison(m message) {
	var on []string
	for _, p := range m.params {
		for _, n := range strings.Fields(p) {
			if f, err := c.sess.Whois(hubbubName(n)); err == nil && f.Name != "" {
				on = append(on, ircNick(f.Name))
			}
		}
	}
	c.reply("303", strings.Join(on, " ")+" ")
}

func (c *client) userhost(m message) {
	var out []string
	for _, n := range m.params[:min(len(m.params), 5)] {
		if f, err := c.sess.Whois(hubbubName(n)); err == nil && f.Name != "" {
			op, away := "", "+"
			if f.Operator {
				op = "*"
			}
			if f.Away != "" {
				away = "-"
			}
			out = append(out, ircNick(f.Name)+op+"="+away+"u@"+serverName)
		}
	}
	c.reply("302", strings.Join(out, " ")+" ")
}

func (c *client) oper(m message) {
	if len(m.params) < 2 {
		c.reply("461", "OPER", "Not enough parameters")
		return
	}
	// OPER NAME PASSWORD: hubbub has one operator password, and the name is not asked.
	err := c.sess.Oper(m.params[1])
	var e *chat.Error
	switch {
	case err == nil:
		c.reply("381", "You are now an IRC operator")
	case asError(err, &e) && (e.Code == chat.CodeNotOffered || e.Code == chat.CodeNotAllowed):
		c.reply("491", e.Text)
	case asError(err, &e) && e.Code == chat.CodeTryLater:
		c.reply("263", "OPER", e.Text) // RPL_TRYAGAIN names the command
	default:
		c.fail(err)
	}
}

func asError(err error, e **chat.Error) bool {
	ce, ok := err.(*chat.Error)
	*e = ce
	return ok
}

func (c *client) motdCmd() {
	lines := c.hub.MOTD()
	if len(lines) == 0 {
		c.reply("422", "MOTD File is missing")
		return
	}
	c.reply("375", "- "+serverName+" Message of the day -")
	for _, l := range lines {
		c.reply("372", "- "+l)
	}
	c.reply("376", "End of /MOTD command")
}
