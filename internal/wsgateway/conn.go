package wsgateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
)

// conn is one browser.
type conn struct {
	srv     *Server
	ws      *websocket.Conn
	nc      *progressConn // the socket under ws
	remote  string
	started time.Time
	session *chat.Session
	ending  chan struct{}     // closed when it is told to end (finish)
	bucket  connpolicy.Bucket // the line rate; used only by the read loop

	mu        sync.Mutex
	wake      *sync.Cond         // signalled when out grows or the connection closes; uses mu
	out       outQueue           // events not yet written; guarded by mu
	backlog   connpolicy.Backlog // what was skipped for a slow reader; guarded by mu
	writing   bool               // the writer is writing what it took from out; guarded by mu
	written   uint64             // messages the writer has written; guarded by mu
	closing   bool               // no more output is taken; guarded by mu
	closeCode websocket.StatusCode
	closeText string                 // what the close frame says; guarded by mu
	reason    connpolicy.CloseReason // why it ends, for the log and metrics; guarded by mu
	flushLast bool                   // send what is queued before closing; guarded by mu

	registered atomic.Bool    // the user has a name; set by the reader
	tasks      sync.WaitGroup // the connection's goroutines, waited for by serve
}

// Drop ends the connection after what is queued is sent (chat.Client). The close frame says
// what the user was told (cut to fit, see closeText), so that the page can show it; the log and
// the metrics get the reason, never the text.
func (c *conn) Drop(reason chat.DropReason, detail string) {
	c.finish(websocket.StatusPolicyViolation, connpolicy.FromDrop(reason), detail, true)
}

// maxCloseReason is the most a close frame's reason may hold, in bytes (RFC 6455 5.5: a
// control frame's payload is at most 125 bytes, two of them the code).
const maxCloseReason = 123

// closeText cuts text to fit a close frame, at a character boundary: a longer one makes the
// library send no close frame at all, and the page could not say why it was closed.
func closeText(text string) string {
	if len(text) <= maxCloseReason {
		return text
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut]
}

func (c *conn) finish(code websocket.StatusCode, reason connpolicy.CloseReason, text string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(code, reason, text, flush)
}

// finishLocked ends the connection with code and reason, its close frame saying text: after
// what is queued when flush is set, at once otherwise. c.mu must be held.
func (c *conn) finishLocked(code websocket.StatusCode, reason connpolicy.CloseReason, text string, flush bool) {
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.reason, c.closeText, c.flushLast = true, code, reason, text, flush
	close(c.ending)
	if !flush {
		// Dropped at once: its writer may be stuck in a write the client does not read, and
		// nothing queued is worth waiting for. Not here, though: CloseNow can wait for the
		// library's goroutines, and this runs under the chat's lock.
		c.out.reset()
		c.backlog = connpolicy.Backlog{}
		c.tasks.Go(func() { c.ws.CloseNow() })
	}
	c.wake.Signal()
}

// serve runs the connection: a writer goroutine, a pinger, and the reading loop here.
func (c *conn) serve(remote netip.Addr, login cookieLogin) {
	// Waited for last: finish starts its tasks before serve's own finish below, and none after.
	defer c.tasks.Wait()
	c.tasks.Go(c.writeLoop)
	c.tasks.Go(c.pingLoop)

	if err := c.connect(remote, login); err != nil {
		c.finish(websocket.StatusPolicyViolation, connpolicy.ReasonBanned, "banned", true)
	}
	if c.session.Registered() {
		c.registered.Store(true)
	}
	if d := c.srv.cfg.RegisterDeadline(c.started); !d.IsZero() {
		timer := time.AfterFunc(time.Until(d), func() {
			if !c.registered.Load() {
				c.Deliver(connpolicy.NoticeRegisterTimeout)
				c.finish(websocket.StatusPolicyViolation, connpolicy.ReasonRegisterTimeout, closeTimeout, true)
			}
		})
		defer timer.Stop()
	}
	c.readLoop()
	c.session.Close()
	// The reader stopped (the client closed, or the writer closed the connection): make sure
	// the writer stops too.
	c.finish(websocket.StatusNormalClosure, connpolicy.ReasonClientClosed, "client closed", false)
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	c.srv.obs.Closed(reason)
	c.srv.log.Info("connection closed", "service", "ws", "remote", c.remote, "name", c.session.Name(),
		"duration", time.Since(c.started).Round(time.Millisecond), "reason", reason.String())
}

// connect joins the user to the chat: straight in as the account that the session cookie logs
// in to, or at the name prompt, first told when the cookie logs in no more.
func (c *conn) connect(remote netip.Addr, login cookieLogin) error {
	hub := c.srv.hub
	switch {
	case login.failed:
		c.Deliver(noticeTokenTrouble)
	case login.account != "":
		s, err := hub.Connect(c, chat.Peer{Addr: remote, Account: login.account, Token: login.id})
		switch {
		case err == nil:
			c.session = s
			c.queueEvent(eventLoggedIn(login.account))
			return nil
		case s != nil: // banned
			c.session = s
			return err
		case !errors.Is(err, chat.ErrNoAccount):
			c.srv.log.Error("web login: entering with a session cookie", "remote", c.remote, "err", err)
			c.Deliver(noticeTokenTrouble)
			return c.connectGuest(remote)
		}
		// The account is gone: so is the token.
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		defer cancel()
		if err := c.srv.tokens.RevokeToken(ctx, login.id); err != nil {
			c.srv.log.Warn("web login: revoking the token of an account gone", "remote", c.remote, "err", err)
		}
		c.queueEvent(eventLoggedOut)
	case login.had:
		c.queueEvent(eventLoggedOut)
	}
	return c.connectGuest(remote)
}

// connectGuest joins the user to the chat at the name prompt.
func (c *conn) connectGuest(remote netip.Addr) error {
	var err error
	c.session, err = c.srv.hub.Connect(c, chat.Peer{Addr: remote})
	return err
}

// readLoop passes each message the browser sends to the chat, until the connection ends.
func (c *conn) readLoop() {
	for {
		// No deadline here: the register timer, the pinger and the writer end the connection,
		// which ends this read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		if c.isClosing() {
			continue // what a client sends after it was told to go is ignored
		}
		// Every message counts against the line rate, a malformed one too: each gets an
		// answer, and a client must not make the server answer as fast as it can send. A
		// client that keeps it up is muted, as on the line transport.
		if !c.bucket.Take(c.ending, c.session, c.srv.obs) {
			return
		}
		c.srv.obs.LineReceived()
		if typ != websocket.MessageText {
			c.finish(websocket.StatusUnsupportedData, connpolicy.ReasonProtocolError, "send JSON text messages", true)
			continue
		}
		var in input
		if err := json.Unmarshal(data, &in); err != nil || in.Type != "line" {
			c.Deliver(noticeBadMessage)
			continue
		}
		if err := c.session.Handle([]byte(in.Text)); errors.Is(err, chat.ErrQuit) {
			c.session.Close()
			c.finish(websocket.StatusNormalClosure, connpolicy.ReasonQuit, "quit", true)
		}
		if c.session.Registered() {
			c.registered.Store(true)
		}
	}
}

// busy reports whether the connection has output queued or being written, and how many
// messages its writer has written.
func (c *conn) busy() (bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked() || c.writing, c.written
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}
