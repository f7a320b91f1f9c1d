package ircproto

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/lineproto"
	"hubbub/internal/safetext"
)

// The capabilities offered (CAP LS), each a bit.
type capSet uint8

const (
	capServerTime capSet = 1 << iota
	capMessageTags
	capEchoMessage
	capMultiPrefix
	capSASL
	capBatch
	capAwayNotify
)

var capNames = []struct {
	name string
	bit  capSet
	v302 string // the value shown to CAP LS 302
}{
	{"away-notify", capAwayNotify, ""},
	{"batch", capBatch, ""},
	{"echo-message", capEchoMessage, ""},
	{"message-tags", capMessageTags, ""},
	{"multi-prefix", capMultiPrefix, ""},
	{"sasl", capSASL, "PLAIN"},
	{"server-time", capServerTime, ""},
}

// client is one IRC connection's conversation: registration (CAP, PASS, NICK, USER,
// AUTHENTICATE), then commands as calls of the chat's typed API. It is the chat.Client the hub
// delivers to, rendering each message for what this client negotiated. Handle and Close run
// on the connection's read loop; Deliver on whatever goroutine the chat delivers from.
type client struct {
	conn    *lineproto.Conn
	hub     *chat.Hub
	log     *slog.Logger
	started time.Time // when the server started, for RPL_CREATED
	// answerBytes bounds the lists of one command (LIST, NAMES, WHO, a JOIN's names), and
	// unreadAnswers the answers waiting for the client when a list is built; see answerBytes.
	answerBytes, unreadAnswers int

	// Used by the read loop only.
	sess       *chat.Session // nil until registered
	wantNick   string        // what NICK asked for, before registration
	gotUser    bool
	negotiate  bool   // CAP LS or REQ came before registration: wait for CAP END
	pass       string // PASS, tried as the nick's account password
	account    string // the account SASL proved
	saslBuf    strings.Builder
	saslActive bool
	quitting   bool

	mu sync.Mutex
	// Guarded by mu.
	caps    capSet
	me      string   // the member's name as the chat says it (KindWelcome, KindNick)
	joined  roomSet  // rooms (display names) the client was told it joined
	pending []string // rooms this device joined whose topic and names are still to be sent
	batch   string   // the history batch open, if any
	// replayRoom is the room just joined, whose replay may follow; "" once anything else came.
	replayRoom string
	batchNo    int
	motd       []string // the MOTD, sent as 372s in the welcome
	welcomed   bool
	// answering: a command (or a ping) is being handled, and its lists may take listBytes more.
	answering bool
	listBytes int

	// live is the encoder of this client's room lines while nothing is pending that a room
	// line must end or wait for (no history batch open, no replay expected), else nil; set
	// under mu (setLiveLocked). A room line then goes out without mu (Deliver): the fan-out's
	// commonest message costs one lock, the connection's, instead of two.
	live atomic.Pointer[chat.Format]
}

func newClient(c *lineproto.Conn, hub *chat.Hub, log *slog.Logger, started time.Time, maxQueue int) *client {
	return &client{conn: c, hub: hub, log: log, started: started,
		answerBytes: answerBytes(maxQueue), unreadAnswers: unreadAnswers(maxQueue)}
}

// listBudgetLocked is how many bytes the list about to be built may take: what the command
// being handled has left of answerBytes (a list asked outside one, of a channel another
// device joined, has answerBytes), and no more than keeps what waits for the client within
// unreadAnswers. A list built as the client sends command after command without reading
// (WeeChat's JOIN, then NAMES and WHO of each channel) is cut shorter, never dropping it.
// c.mu must be held: it comes before lineproto's.
func (c *client) listBudgetLocked() int {
	budget := c.answerBytes
	if c.answering {
		budget = c.listBytes
	}
	return max(min(budget, c.unreadAnswers-c.conn.Waiting()), 0)
}

func (c *client) listBudget() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listBudgetLocked()
}

// sendListLocked queues b, a list built within listBudgetLocked, and counts it against the
// command's. c.mu must be held.
func (c *client) sendListLocked(b []byte) {
	if c.answering {
		c.listBytes -= len(b)
	}
	c.conn.Send(nil, b)
}

func (c *client) sendList(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendListLocked(b)
}

// answering marks the start (on) and the end of a command's handling, whose lists share
// answerBytes.
func (c *client) setAnswering(on bool) {
	c.mu.Lock()
	c.answering, c.listBytes = on, c.answerBytes
	c.mu.Unlock()
}

// MembersOnEntry implements chat.MembersOnEntry: a channel this device did not join itself
// (another device did, or the chat put the member back in #lobby) comes with its names.
func (c *client) MembersOnEntry() {}

// setMeLocked records the member's name, and has the engine address its own notices to it.
func (c *client) setMeLocked(name string) {
	c.me = name
	c.conn.SetNotices(&noticeEnc{nick: safeParam(ircNick(name))})
}

// nick is the client's nick for numerics: "*" before registration.
func (c *client) nick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nickLocked()
}

func (c *client) nickLocked() string {
	if c.me == "" {
		return "*"
	}
	return ircNick(c.me)
}

func (c *client) has(cp capSet) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps&cp != 0
}

// send queues a line the server says of its own to this client, as an answer.
func (c *client) send(line string) {
	c.conn.Send(nil, []byte(line+"\r\n"))
}

// reply sends numeric to the client: ":hubbub NUM nick params...".
func (c *client) reply(numeric string, params ...string) {
	c.send(numericLine(c.nick(), numeric, params...))
}

// numericLine is a numeric's line, without its line end: its last parameter, when trailing,
// is cut to keep the line within maxLine (a topic or an away text of multibyte characters
// could pass it).
func numericLine(nick, numeric string, params ...string) string {
	var b strings.Builder
	b.WriteString(":" + serverName + " " + numeric + " " + nick)
	for i, p := range params {
		// The last is trailing when it must be, and when it is long (a topic without a space):
		// as a middle parameter it would be cut to maxParamLen.
		if i == len(params)-1 && (p == "" || strings.ContainsAny(p, " :") || len(p) > maxParamLen) {
			p = safeTrailing(p)
			room := maxLine - len("\r\n") - b.Len() - len(" :")
			if len(p) > room {
				p = p[:utf8Start(p, max(room, 0))]
			}
			b.WriteString(" :" + p)
		} else {
			b.WriteString(" " + safeParam(p))
		}
	}
	return b.String()
}

// fail answers err, from a chat call, with its numeric; subject are the parameters the
// numeric names before its text (a channel, a nick, a command).
func (c *client) fail(err error, subject ...string) {
	numeric, text := numericOf(err)
	if numeric == "" {
		c.send(":" + serverName + " NOTICE " + c.nick() + " :" + safeTrailing(text))
		return
	}
	c.reply(numeric, append(subject, text)...)
}

// failTarget is fail for a chat call that named target (a nick, or a channel): no one by that
// name is online is said here, with the name as the chat cleans it, since a target that is
// nothing but an escape sequence is cleaned to nothing ("no one called  is online").
func (c *client) failTarget(err error, target string, subject ...string) {
	var e *chat.Error
	if !asError(err, &e) || e.Code != chat.CodeNoSuchName {
		c.fail(err, subject...)
		return
	}
	text := "no one by that name is online"
	if name := strings.TrimSpace(safetext.Truncate(safetext.CleanString(hubbubName(target)), 4*chat.MaxNameLen)); name != "" {
		text = "no one called " + ircNick(name) + " is online"
	}
	c.reply("401", safeParam(target), text)
}

// Registered implements lineproto.Session.
func (c *client) Registered() bool { return c.sess != nil }

// Name implements lineproto.Session.
func (c *client) Name() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.Name()
}

// TooLong implements lineproto.Session: ERR_INPUTTOOLONG.
func (c *client) TooLong() { c.reply("417", "Input line was too long") }

// Flooding implements lineproto.Session.
func (c *client) Flooding() {
	if c.sess != nil {
		c.sess.Flooding()
	}
}

// Close implements lineproto.Session: the others are told why the client went (a QUIT with
// a reason they can read, as the chat words a quit: "quit: REASON" is the user's own).
func (c *client) Close() {
	if c.sess != nil {
		c.sess.CloseFor(quitWords(c.conn.Reason()))
	}
}

// quitWords is what others are told of a connection that ended for reason: "" when the chat
// says it (a QUIT's own reason, a kick, a ban) or nothing more would help.
func quitWords(reason connpolicy.CloseReason) string {
	switch reason {
	case connpolicy.ReasonPingTimeout:
		return "ping timeout"
	case connpolicy.ReasonClientClosed, connpolicy.ReasonReadError, connpolicy.ReasonWriteError:
		return "connection closed"
	case connpolicy.ReasonWriteTimeout, connpolicy.ReasonSlowConsumer:
		return "connection too slow"
	case connpolicy.ReasonShutdown:
		return "server shutting down"
	}
	return ""
}

// Ping implements lineproto.Pinger. It runs on the read loop, like Handle: the names of rooms
// joined meanwhile by another device, or after a kick, are sent now at the latest.
func (c *client) Ping() {
	if c.sess != nil {
		c.setAnswering(true)
		c.sendPending()
		c.setAnswering(false)
	}
	c.send("PING :" + serverName)
}

// Drop implements chat.Client.
func (c *client) Drop(reason chat.DropReason, detail string) {
	c.send("ERROR :Closing link: " + safeTrailing(detail))
	c.conn.Drop(reason, detail)
}

// Deliver implements chat.Client: it renders m for this client. It never blocks and calls
// nothing of the chat's.
func (c *client) Deliver(m *chat.Message) {
	if (m.Kind == chat.KindChat || m.Kind == chat.KindAction) && !m.History {
		// What the locked path below would do with a live room line when no batch is open
		// and no replay is expected: encode it once for all clients of this wire format.
		if enc := c.live.Load(); enc != nil {
			c.conn.Send(m, m.Encoded(enc))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.setLiveLocked()
	if m.Kind == chat.KindNotice && c.batch != "" && strings.HasPrefix(m.Text, "end of history") {
		// The chat's word for the end of a replay (and its hint at /history, which IRC has
		// not): the batch's end says it.
		c.endBatchLocked()
		c.replayRoom = ""
		return
	}
	replayed := c.replayRoom // the room whose replay a notice may end
	if !m.History && m.Kind != chat.KindMembers {
		c.replayRoom = ""
		if c.batch != "" {
			c.endBatchLocked()
		}
	}
	switch m.Kind {
	case chat.KindPrompt, chat.KindNameTaken, chat.KindSecretPrompt, chat.KindSecretDone,
		chat.KindRooms:
		return // the prompt's conversation and the slash commands' lists: not IRC's
	case chat.KindMembers:
		// Only ever the names of a channel the chat put this device in (chat.MembersOnEntry):
		// this client asks its own questions through the typed API.
		c.enteredLocked(m)
		return
	case chat.KindWelcome:
		c.setMeLocked(m.From)
		c.welcomeLocked()
		return
	case chat.KindCurrent:
		if c.joined.add(m.Room) {
			c.pending = append(c.pending, m.Room)
			c.conn.Send(nil, appendLine(nil, "", mask(c.me), "JOIN", ircChannel(m.Room)))
		}
		c.replayRoom = m.Room // what history comes next is this room's (see historyLocked)
		return
	case chat.KindNotice:
		if m.Narration {
			return // said by the JOINs, 332s, 372s, ERRORs and answers the client gets
		}
		to := safeParam(ircNick(c.nickLocked()))
		if replayed != "" && strings.HasPrefix(m.Text, "end of history") {
			// Said to the channel replayed (without batch, nothing else says which): to the
			// nick, a client shows it in its status window, once per channel joined.
			to = ircChannel(replayed)
		}
		c.conn.Send(m, appendText(nil, "", serverName, "NOTICE", to, "", m.Text))
		return
	case chat.KindKicked:
		if c.joined.has(m.Room) {
			c.joined.remove(m.Room)
			c.conn.Send(m, appendLine(nil, "", mask(m.From), "KICK", ircChannel(m.Room), safeParam(ircNick(c.me)), ":"+cut(m.Text)))
		}
		return
	case chat.KindAway:
		if c.caps&capAwayNotify == 0 || m.From == c.me {
			return // a client's own away is answered with 305 and 306
		}
	case chat.KindOwner:
		if !c.joined.has(m.Room) {
			return // a channel the client was not told it is in yet: its NAMES will show the @
		}
	case chat.KindLeave, chat.KindKick:
		if m.From == c.me {
			c.joined.remove(m.Room)
		}
	case chat.KindJoin:
		if m.From == c.me { // another device of the account joined
			if !c.joined.add(m.Room) {
				return
			}
			c.pending = append(c.pending, m.Room)
		}
	case chat.KindNick:
		if m.From == c.me {
			c.setMeLocked(m.Text)
		}
	case chat.KindPrivate:
		if m.Sent && c.caps&capEchoMessage == 0 {
			return // the client shows what it sent itself
		}
	}
	if m.History {
		c.conn.Send(m, c.historyLocked(m))
		return
	}
	c.conn.Send(m, m.Encoded(c.encLocked()))
}

// DeliverLines implements chat.LinesClient: room lines said one after another go to the
// connection's queue under its lock once, and, like one line, skip the client's lock while
// nothing is pending (live).
func (c *client) DeliverLines(ms []*chat.Message) {
	if enc := c.live.Load(); enc != nil && allLive(ms) {
		c.conn.SendLines(ms, enc)
		return
	}
	for _, m := range ms {
		c.Deliver(m)
	}
}

// allLive reports whether every message of ms is a room line as it is said, not replayed.
func allLive(ms []*chat.Message) bool {
	for _, m := range ms {
		if m.Kind != chat.KindChat && m.Kind != chat.KindAction || m.History {
			return false
		}
	}
	return true
}

// encLocked is the encoder of live messages for what this client negotiated.
func (c *client) encLocked() *chat.Format {
	if c.caps&capServerTime != 0 {
		return timeEnc
	}
	return plainEnc
}

// setLiveLocked says whether a room line may skip mu (live), after anything it depends on
// changed: the capabilities, the history batch, the replay expected.
func (c *client) setLiveLocked() {
	if c.batch == "" && c.replayRoom == "" {
		c.live.Store(c.encLocked())
	} else {
		c.live.Store(nil)
	}
}

// historyLocked renders a line replayed from history: in the open batch, with its time as a
// tag, or, for a client without server-time, in front of the text.
func (c *client) historyLocked(m *chat.Message) []byte {
	var tags []string
	if c.batch == "" && c.replayRoom != "" && c.caps&capBatch != 0 {
		// Opened at the first line replayed, so that a room with no history has no batch.
		c.batchNo++
		c.batch = "h" + strconv.Itoa(c.batchNo)
		c.conn.Send(nil, appendLine(nil, "", serverName, "BATCH", "+"+c.batch, "chathistory", ircChannel(c.replayRoom)))
	}
	if c.batch != "" {
		tags = append(tags, "batch="+c.batch)
	}
	stamp := ""
	if c.caps&capServerTime != 0 {
		tags = append(tags, timeTag(m))
	} else {
		stamp = "[" + m.Time.UTC().Format("2006-01-02 15:04") + "] "
	}
	switch m.Kind {
	case chat.KindTopic:
		// Never a TOPIC: a client would take it for the topic now, which may be another or
		// none (332 says which). Told as history, by the server to the channel.
		what := " set the topic: " + m.Text
		if m.Text == "" {
			what = " cleared the topic"
		}
		return appendText(nil, strings.Join(tags, ";"), serverName, "NOTICE", ircChannel(m.Room), "",
			stamp+ircNick(m.From)+what)
	case chat.KindChat, chat.KindAction, chat.KindPrivate:
		m = &chat.Message{Kind: m.Kind, Room: m.Room, From: m.From, To: m.To, Text: stamp + m.Text}
	}
	return appendMessage(nil, m, strings.Join(tags, ";"))
}

func (c *client) endBatchLocked() {
	c.conn.Send(nil, appendLine(nil, "", serverName, "BATCH", "-"+c.batch))
	c.batch = ""
}

// welcomeLocked sends 001 to 005 and the MOTD, once the chat welcomed the member.
func (c *client) welcomeLocked() {
	if c.welcomed {
		return
	}
	c.welcomed = true
	nick := ircNick(c.me)
	lines := []string{
		numericLine(nick, "001", "Welcome to hubbub, "+nick),
		numericLine(nick, "002", "Your host is "+serverName+", running hubbub"),
		numericLine(nick, "003", "This server was created "+c.started.UTC().Format("2006-01-02 15:04:05 UTC")),
		numericLine(nick, "004", serverName, "hubbub", "o", "bnot"),
		numericLine(nick, "005", isupport...),
	}
	if len(c.motd) == 0 {
		lines = append(lines, numericLine(nick, "422", "No MOTD; /join #lobby to talk with everyone"))
	} else {
		lines = append(lines, numericLine(nick, "375", "- "+serverName+" Message of the day -"))
		for _, l := range c.motd {
			lines = append(lines, numericLine(nick, "372", "- "+l))
		}
		lines = append(lines, numericLine(nick, "376", "End of /MOTD command"))
	}
	var b []byte
	for _, l := range lines {
		b = append(append(b, l...), '\r', '\n')
	}
	c.conn.Send(nil, b)
}

// isupport is RPL_ISUPPORT's tokens. CASEMAPPING=rfc8265: names compare as PRECIS's
// UsernameCaseMapped, as hubbub's name rule does (internal/chat/name.go); the chat refuses
// look-alikes as well, which a client learns from 433.
var isupport = []string{
	"CASEMAPPING=rfc8265", "CHANTYPES=#", "NICKLEN=" + strconv.Itoa(chat.MaxNameLen),
	"CHANNELLEN=" + strconv.Itoa(chat.MaxNameLen+1), "TOPICLEN=300", "PREFIX=(o)@",
	"CHANMODES=b,,,nt", "NETWORK=hubbub", "AWAYLEN=200", "KICKLEN=200", "MAXTARGETS=" + strconv.Itoa(maxTargets),
	"TARGMAX=NAMES:1,PRIVMSG:1,NOTICE:1",
	// message-tags is offered for server-time and batch; client tags (+draft/react...) are not
	// relayed, which this says to clients (IRCv3 message-tags: CLIENTTAGDENY).
	"CLIENTTAGDENY=*",
	"are supported by this server",
}

// maxTargets is how many nicks or channels one PRIVMSG, NOTICE or NAMES may name (MAXTARGETS,
// TARGMAX): one, so that a line is one message (or one list), held to the line rate as a
// telnet user's is.
const maxTargets = 1

// Handle implements lineproto.Session: one line from the client.
func (c *client) Handle(line []byte) error {
	if c.quitting {
		return chat.ErrQuit
	}
	m := parse(string(line))
	if m.command == "" {
		return nil
	}
	if c.sess == nil {
		return c.beforeRegistration(m)
	}
	c.setAnswering(true)
	err := c.command(m)
	c.sendPending()
	c.setAnswering(false)
	return err
}

// beforeRegistration handles what a client may say before it is registered.
func (c *client) beforeRegistration(m message) error {
	switch m.command {
	case "CAP":
		c.cap(m)
	case "PASS":
		if len(m.params) < 1 {
			c.reply("461", "PASS", "Not enough parameters")
			break
		}
		c.pass = m.params[0]
	case "NICK":
		if len(m.params) < 1 || m.params[0] == "" {
			c.reply("431", "No nickname given")
			break
		}
		if !nickAllowed(m.params[0]) {
			c.reply("432", safeParam(m.params[0]), nickRule)
			break
		}
		c.wantNick = m.params[0]
	case "USER":
		if len(m.params) < 4 {
			c.reply("461", "USER", "Not enough parameters")
			break
		}
		c.gotUser = true
	case "AUTHENTICATE":
		c.authenticate(m)
	case "PING":
		c.send(":" + serverName + " PONG " + serverName + " :" + cut(m.arg(0)))
	case "PONG":
	case "QUIT":
		c.send("ERROR :Closing link")
		return chat.ErrQuit
	default:
		c.reply("451", "You have not registered")
		return nil
	}
	return c.tryRegister()
}

// tryRegister enters the chat once NICK and USER came and capability negotiation is over.
func (c *client) tryRegister() error {
	if c.wantNick == "" || !c.gotUser || c.negotiate {
		return nil
	}
	peer := chat.Peer{Addr: c.conn.Addr(), Account: c.account}
	sess, err := c.enter(peer)
	passUnused := c.account == "" && c.pass != ""
	var e *chat.Error
	if passUnused && errors.As(err, &e) && e.Code == chat.CodeNameRegistered {
		// PASS is the nick's account password, for clients without SASL: tried when the nick
		// is an account's (or the server takes accounts only). A guest's PASS, which bouncers
		// and some clients always send, is no reason to refuse it: it goes on as a guest, told
		// that the password was not used. This shows which nicks are accounts no more than
		// NICK alone does (the 433 above), or the line chat's name prompt (which asks an
		// account's password).
		acc, lerr := c.hub.CheckLogin(hubbubName(c.wantNick), c.pass, peer.Addr)
		c.pass = ""
		if lerr != nil {
			c.reply("464", loginFailure(lerr))
			c.send("ERROR :Closing link: " + loginFailure(lerr))
			return chat.ErrQuit
		}
		c.account, peer.Account = acc, acc
		passUnused = false
		sess, err = c.enter(peer)
	}
	switch {
	case errors.Is(err, chat.ErrBanned):
		c.send("ERROR :Closing link: you are banned from this server")
		return chat.ErrQuit
	case errors.Is(err, chat.ErrNoAccount):
		c.account = ""
		c.reply("904", "SASL authentication failed: the account is gone")
		return nil
	case err != nil:
		c.mu.Lock()
		c.motd = nil
		c.mu.Unlock()
		if numeric, text := numericOf(err); numeric != "432" && numeric != "433" {
			// Not the nick's fault (the account is connected elsewhere, or from too many
			// devices): no numeric a registering client waits for fits, and another NICK would
			// not help, so it is told why and let go.
			c.send("ERROR :Closing link: " + safeTrailing(text))
			return chat.ErrQuit
		}
		c.fail(err, safeParam(c.wantNick))
		return nil
	}
	c.sess = sess
	if passUnused {
		c.pass = ""
		c.send(":" + serverName + " NOTICE " + c.nick() + " :your password was not used: " +
			safeTrailing(c.nick()) + " is no account here, so you are a guest (register on the line chat or the web page)")
	}
	c.sendPending()
	return nil
}

// enter enters the chat as peer, under the nick asked for, with the MOTD of now.
func (c *client) enter(peer chat.Peer) (*chat.Session, error) {
	c.mu.Lock()
	c.motd = append([]string(nil), c.hub.MOTD()...)
	c.mu.Unlock()
	return c.hub.Enter(c, peer, hubbubName(c.wantNick))
}

// loginFailure says why a password was not taken, in words for the user.
func loginFailure(err error) string {
	var wait *chat.LoginWaitError
	switch {
	case errors.Is(err, chat.ErrWrongPassword):
		return "wrong account name or password"
	case errors.As(err, &wait):
		return wait.Error()
	case errors.Is(err, chat.ErrBanned):
		return "that name or your address is banned"
	case errors.Is(err, chat.ErrLoginBusy):
		return "the server is busy checking passwords: try again in a moment"
	}
	return "the server cannot check passwords just now"
}

// cap answers CAP LS, LIST, REQ and END.
func (c *client) cap(m message) {
	nick := c.nick()
	switch strings.ToUpper(m.arg(0)) {
	case "LS":
		if c.sess == nil {
			c.negotiate = true
		}
		v302 := m.arg(1) != "" && m.arg(1) >= "302"
		var names []string
		for _, cp := range capNames {
			if v302 && cp.v302 != "" {
				names = append(names, cp.name+"="+cp.v302)
			} else {
				names = append(names, cp.name)
			}
		}
		c.send(":" + serverName + " CAP " + nick + " LS :" + strings.Join(names, " "))
	case "LIST":
		var names []string
		c.mu.Lock()
		for _, cp := range capNames {
			if c.caps&cp.bit != 0 {
				names = append(names, cp.name)
			}
		}
		c.mu.Unlock()
		c.send(":" + serverName + " CAP " + nick + " LIST :" + strings.Join(names, " "))
	case "REQ":
		if c.sess == nil {
			c.negotiate = true
		}
		req := m.arg(1)
		var add, del capSet
		ok := true
		for _, name := range strings.Fields(req) {
			remove := strings.HasPrefix(name, "-")
			name = strings.TrimPrefix(name, "-")
			bit := capSet(0)
			for _, cp := range capNames {
				if cp.name == name {
					bit = cp.bit
				}
			}
			if bit == 0 || (remove && bit == capSASL && c.sess != nil) {
				ok = false
				break
			}
			if remove {
				del |= bit
			} else {
				add |= bit
			}
		}
		if !ok || req == "" {
			c.send(":" + serverName + " CAP " + nick + " NAK :" + cut(req))
			return
		}
		c.mu.Lock()
		c.caps = (c.caps | add) &^ del
		c.setLiveLocked()
		c.mu.Unlock()
		c.send(":" + serverName + " CAP " + nick + " ACK :" + cut(req))
	case "END":
		c.negotiate = false
	default:
		c.reply("410", safeParam(m.arg(0)), "Invalid CAP command")
	}
}

// authenticate runs SASL PLAIN against the chat's accounts: the same password check and
// guard against guessing as the line chat's login.
func (c *client) authenticate(m message) {
	arg := m.arg(0)
	switch {
	case !c.has(capSASL):
		c.reply("904", "SASL authentication failed: request the sasl capability first")
	case c.account != "":
		c.reply("907", "You have already authenticated using SASL")
	case arg == "*":
		c.saslActive = false
		c.saslBuf.Reset()
		c.reply("906", "SASL authentication aborted")
	case !c.saslActive:
		if strings.ToUpper(arg) != "PLAIN" {
			c.reply("908", "PLAIN", "are available SASL mechanisms")
			c.reply("904", "SASL authentication failed")
			return
		}
		c.saslActive = true
		c.saslBuf.Reset()
		c.send("AUTHENTICATE +")
	default:
		if arg != "+" {
			c.saslBuf.WriteString(arg)
		}
		if len(arg) == 400 && c.saslBuf.Len() < 1600 {
			return // more to come
		}
		c.saslActive = false
		raw, err := base64.StdEncoding.DecodeString(c.saslBuf.String())
		c.saslBuf.Reset()
		parts := strings.Split(string(raw), "\x00")
		if err != nil || len(parts) != 3 {
			c.reply("904", "SASL authentication failed: send authzid NUL authcid NUL password, in base64")
			return
		}
		name := parts[1]
		if parts[0] != "" && parts[0] != parts[1] {
			c.reply("904", "SASL authentication failed: log in as the account itself")
			return
		}
		acc, err := c.hub.CheckLogin(name, parts[2], c.conn.Addr())
		if err != nil {
			c.reply("904", "SASL authentication failed: "+loginFailure(err))
			return
		}
		c.account = acc
		c.reply("900", mask(acc), acc, "You are now logged in as "+acc)
		c.reply("903", "SASL authentication successful")
	}
}

// sendPending sends the topic and names of each room the client was told it joined, and ends
// a history batch still open: called on the read loop after each command, once what the
// command made the chat say (the JOIN, the replay) is queued.
func (c *client) sendPending() {
	c.mu.Lock()
	c.replayRoom = ""
	if c.batch != "" {
		c.endBatchLocked()
	}
	rooms := c.pending
	c.pending = nil
	c.setLiveLocked()
	c.mu.Unlock()
	for _, room := range rooms {
		if topic, err := c.sess.RoomTopic(room); err == nil && topic != "" {
			c.reply("332", ircChannel(room), topic)
		}
		c.names(room)
	}
}

// echo sends the client its own line back (echo-message): the chat does not give the
// device that said a line a copy of it.
func (c *client) echo(command, target, ctcp, text string) {
	var tags string
	if c.has(capServerTime) {
		tags = timeTag(&chat.Message{Time: time.Now()})
	}
	c.conn.Send(nil, appendText(nil, tags, mask(c.sess.Name()), command, target, ctcp, text))
}

// enteredLocked tells the client of a channel the chat put this device in, with the topic and
// names m carries (chat.MembersOnEntry): a JOIN first when it was not told yet.
func (c *client) enteredLocked(m *chat.Message) {
	if c.joined.add(m.Room) {
		c.conn.Send(nil, appendLine(nil, "", mask(c.me), "JOIN", ircChannel(m.Room)))
	}
	c.pending = slices.DeleteFunc(c.pending, func(r string) bool { return r == m.Room })
	nick := ircNick(c.me)
	var b []byte
	if m.Text != "" {
		b = append(append(b, numericLine(nick, "332", ircChannel(m.Room), m.Text)...), '\r', '\n')
	}
	c.sendListLocked(appendNames(b, nick, chat.RoomMembers{Room: m.Room, Members: m.Members}, c.listBudgetLocked()))
}

// noticeEnc renders the notices lineproto's engine says of its own once the client is
// registered (how many lines it missed), addressed to its nick.
type noticeEnc struct{ nick string }

// Encode implements chat.Encoder.
func (e *noticeEnc) Encode(m *chat.Message) []byte {
	return appendText(nil, "", serverName, "NOTICE", e.nick, "", m.Text)
}
