package wsgateway

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/flush"
)

// closeWait is how long a connection that sent its close frame waits for the client's before
// it closes the socket anyway (RFC 6455 7.1.1: the server closes the TCP connection first, once
// the handshake is done or has taken too long).
const closeWait = 5 * time.Second

// goneLinger is how long the input of a client that went (goneLocked) is read at least.
const goneLinger = 2 * time.Second

// writerState says who is writing a connection's output, if anyone.
type writerState uint8

const (
	writerIdle     writerState = iota // nobody: output goes to the flusher
	writerFlushing                    // the flusher is writing output it took from the queue
	writerOwn                         // a writer goroutine of the connection's own waits for the socket
)

// conn is one browser. While it is idle it has no goroutine: the server's poller watches its
// socket (read.go) and the server's flusher writes its output (writer.go).
type conn struct {
	srv     *Server
	flusher *flusher        // writes its output while the socket takes it
	fs      flush.State     // its flusher's record of it
	sock    net.Conn        // the hijacked connection: a TCP socket, or a TLS stream over one
	under   net.Conn        // the socket under sock (sock itself for TCP): closing it cuts sock at once
	raw     syscall.RawConn // the kernel socket of a TCP connection; nil for a stream (TLS)
	id      uint32          // tells this connection from an earlier one on the same descriptor (poller)
	remote  string
	addr    netip.Addr
	started time.Time
	session *chat.Session
	ending  chan struct{}     // closed when it is told to end (finish)
	bucket  connpolicy.Bucket // the line rate; used only by the reader
	rd      frameReader       // used only by the reader

	registered atomic.Bool    // the user has a name; set by the reader
	writers    sync.WaitGroup // its writer of its own, waited for by end
	endOnce    sync.Once

	mu          sync.Mutex
	out         outQueue               // frames not yet written; guarded by mu
	backlog     connpolicy.Backlog     // what was skipped for a slow reader; guarded by mu
	writer      writerState            // guarded by mu
	flushQueued bool                   // c is on the flusher's list; guarded by mu
	queuedMsgs  int                    // messages queued since the last write, for metrics; guarded by mu
	written     uint64                 // writes that carried messages (not control frames); guarded by mu
	closing     bool                   // no more output is taken; guarded by mu
	closeQueued bool                   // the close frame is the last thing queued; guarded by mu
	closeSent   bool                   // the close frame went out; guarded by mu
	closeAtOnce bool                   // close once ours is sent: the client's came, or cannot be read; guarded by mu
	closed      bool                   // the socket is shut; guarded by mu
	gone        bool                   // writing failed: the client went (goneLocked); guarded by mu
	reason      connpolicy.CloseReason // why it ends, for the log and metrics; guarded by mu
	timers      connTimers             // guarded by mu
}

// connTimers are a connection's timers: they run their function on a goroutine of the
// runtime's only when they fire, so that an idle connection holds none.
type connTimers struct {
	register *time.Timer // no name in time
	ping     *time.Timer // the next ping (pinger.go)
	linger   *time.Timer // the client's close frame is late
	pingOut  bool        // a ping went unanswered so far
	pingMark uint64      // written when it was sent
}

// Drop ends the connection after what is queued is sent (chat.Client). The close frame says
// what the user was told (cut to fit, see closeText), so that the page can show it; the log and
// the metrics get the reason, never the text.
func (c *conn) Drop(reason chat.DropReason, detail string) {
	c.finish(ws.StatusPolicyViolation, connpolicy.FromDrop(reason), detail, true)
}

func (c *conn) finish(code ws.StatusCode, reason connpolicy.CloseReason, text string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(code, reason, text, flush)
}

// finishLocked ends the connection with code and reason, its close frame saying text: after
// what is queued when flush is set, at once and with no close frame otherwise. c.mu must be
// held; nothing here blocks.
func (c *conn) finishLocked(code ws.StatusCode, reason connpolicy.CloseReason, text string, flush bool) {
	if c.closing {
		return
	}
	c.closing, c.reason = true, reason
	close(c.ending)
	c.flusher.Hurry(c) // its flusher must not hold its end back
	if !flush {
		// Dropped at once: the client may not be reading, and nothing queued is worth waiting
		// for.
		c.closeLocked()
		return
	}
	c.queueCloseLocked(closeFrame(code, text))
}

// queueCloseLocked queues the close frame f as the last output. c.mu must be held.
func (c *conn) queueCloseLocked(f []byte) {
	c.closeQueued = true
	c.out.push(queued{b: f, control: true})
	c.scheduleLocked()
}

// peerClosed is the client's close frame, with code and reason: the answer to ours, or its
// own, which is answered with the same code and reason, as RFC 6455 5.5.1 asks.
func (c *conn) peerClosed(code ws.StatusCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAtOnce = true
	switch {
	case c.closeSent:
		c.closeLocked() // the handshake is done
	case c.closing:
		// Ours is queued: the socket is closed once it is sent (drainedLocked).
	default:
		c.closing, c.reason = true, connpolicy.ReasonClientClosed
		close(c.ending)
		// What was queued is not read by a client that is leaving.
		c.out.reset()
		c.backlog = connpolicy.Backlog{}
		if code == ws.StatusNoStatusRcvd {
			code = 0
		}
		c.queueCloseLocked(closeFrame(code, reason))
	}
}

// drainedLocked is called when everything queued, the close frame last, has been written.
// c.mu must be held.
func (c *conn) drainedLocked() {
	if c.closeSent || c.closed {
		return
	}
	c.closeSent = true
	if c.closeAtOnce {
		c.closeLocked()
		return
	}
	c.timers.linger = time.AfterFunc(closeWait, func() { c.closeNow(connpolicy.ReasonNone) })
}

// closeNow closes the socket at once, dropping what is queued; reason says why, unless one was
// given before.
func (c *conn) closeNow(reason connpolicy.CloseReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeNowLocked(reason)
}

// closeNowLocked is closeNow with c.mu held: for a socket that takes nothing more, whether or
// not the connection was already closing (a close frame queued behind what the client never
// read is never sent either).
func (c *conn) closeNowLocked(reason connpolicy.CloseReason) {
	c.endWaitsLocked()
	if c.reason == connpolicy.ReasonNone {
		c.reason = reason
	}
	c.closeLocked()
}

// closeLocked shuts the socket, so that its reader wakes and ends the connection (end), and
// drops what is queued. c.mu must be held: it does not block.
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.out.reset()
	c.backlog = connpolicy.Backlog{}
	if c.raw != nil {
		// Not Close: a socket closed while the poller watches it leaves the poller's list
		// without a word, and nobody would end the connection. Shut, it shows as readable.
		c.raw.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		return
	}
	// A stream's reader is blocked in Read: closing the socket under it ends that. (Not the
	// stream: closing TLS first writes to the socket, which may wait.)
	c.under.Close()
}

// end is the connection's last act, run by its reader once the socket is closed or failed:
// the user leaves the chat, and the connection is counted, logged and forgotten.
func (c *conn) end() {
	c.endOnce.Do(func() {
		c.srv.poll.remove(c)
		c.mu.Lock()
		c.endWaitsLocked()
		if c.reason == connpolicy.ReasonNone {
			c.reason = connpolicy.ReasonClientClosed
		}
		c.closeLocked()
		for _, t := range []*time.Timer{c.timers.register, c.timers.ping, c.timers.linger} {
			if t != nil {
				t.Stop()
			}
		}
		reason := c.reason
		c.mu.Unlock()
		c.session.Close()
		c.writers.Wait() // its writer fails at once on the shut socket
		c.sock.Close()
		c.srv.obs.Closed(reason)
		c.srv.log.Info("connection closed", "service", "ws", "remote", c.remote, "name", c.session.Name(),
			"duration", time.Since(c.started).Round(time.Millisecond), "reason", reason.String())
		c.srv.forget(c)
	})
}

// start joins the user to the chat and starts reading; buffered is what the client sent
// before the handshake was done reading.
func (c *conn) start(login cookieLogin, buffered []byte) {
	if err := c.connect(c.addr, login); err != nil {
		c.finish(ws.StatusPolicyViolation, connpolicy.ReasonBanned, "banned", true)
	}
	if c.session.Registered() {
		c.registered.Store(true)
	}
	if d := c.srv.cfg.RegisterDeadline(c.started); !d.IsZero() {
		c.mu.Lock()
		c.timers.register = time.AfterFunc(time.Until(d), func() {
			if !c.registered.Load() {
				c.Deliver(connpolicy.NoticeRegisterTimeout)
				c.finish(ws.StatusPolicyViolation, connpolicy.ReasonRegisterTimeout, closeTimeout, true)
			}
		})
		c.mu.Unlock()
	}
	c.startPinger()
	if c.raw == nil {
		// Owned by the server, as the connection is: it ends with end, which the server's
		// Shutdown waits for.
		go func() {
			if len(buffered) > 0 {
				c.consume(buffered)
			}
			c.readStream()
		}()
		return
	}
	if len(buffered) > 0 {
		c.consume(buffered)
	}
	if err := c.srv.poll.add(c); err != nil {
		c.srv.log.Error("websocket: waiting for input", "remote", c.remote, "err", err)
		c.closeNow(connpolicy.ReasonReadError)
		c.end()
	}
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

// ignoresInput reports whether what the client still sends is ignored: it was told to go. A
// client that went (goneLocked) is not ignored: what it sent before it went is still read.
func (c *conn) ignoresInput() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing && !c.gone
}

// goneLocked is closeNowLocked for a client that writing to failed: it went, most often with a
// reset (it closed its socket with frames unread). What it sent before it went is still in
// the socket, and is what its user wrote: output is dropped, but the socket is left to the
// reader, which reads and says the rest, at the line rate, for as long as a paste may take
// (connpolicy.Limits.GoneLinger); then the socket is shut, which ends the reader's waits
// (c.ending) and the connection. A connection the server
// was already sending away is shut at once: what the client still sends is ignored. c.mu must
// be held.
func (c *conn) goneLocked() {
	if c.closing || c.closed {
		c.closeNowLocked(connpolicy.ReasonWriteError)
		return
	}
	c.gone, c.closing = true, true // no more output; c.ending stays open for the reader's waits
	c.reason = connpolicy.ReasonWriteError
	c.out.reset()
	c.backlog = connpolicy.Backlog{}
	if c.timers.linger != nil {
		c.timers.linger.Stop()
	}
	c.timers.linger = time.AfterFunc(c.srv.cfg.GoneLinger(goneLinger), func() { c.closeNow(connpolicy.ReasonNone) })
}

// endGone closes c if its client went (goneLocked) and what it sent is still being said: the
// server is going away, and a paste said at the line rate would hold its shutdown up for as
// long as the paste may take, cutting everyone else short.
func (c *conn) endGone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone && !c.closed {
		c.closeNowLocked(connpolicy.ReasonWriteError)
	}
}

// endWaitsLocked closes c.ending, once: the connection is told to end. c.mu must be held.
func (c *conn) endWaitsLocked() {
	c.closing = true
	select {
	case <-c.ending:
	default:
		close(c.ending)
	}
}
