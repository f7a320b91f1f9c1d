package wsgateway

import (
	"time"

	"github.com/gobwas/ws"

	"hubbub/internal/connpolicy"
)

// The pinger pings the browser every PingInterval (--ws-ping-interval): a connection that
// does not answer is dropped, so that a vanished client does not hold its name. It is a timer,
// not a goroutine: an idle connection holds none.

// pingPayload is what each ping says; any pong answers it.
var pingPayload = []byte("hubbub")

func (c *conn) startPinger() {
	if c.srv.cfg.PingInterval <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.timers.ping = time.AfterFunc(c.srv.cfg.PingInterval, c.pingTick)
	}
}

// pingTick is the pinger's timer: it drops a client that answered no ping in a whole
// interval, and pings again.
func (c *conn) pingTick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	t := &c.timers
	switch {
	case c.pendingLocked() || c.writer != writerIdle:
		// The socket's write deadline watches a client that has output coming; the pong may
		// be behind it.
		t.pingOut = false
	case t.pingOut && c.written == t.pingMark:
		c.finishLocked(ws.StatusPolicyViolation, connpolicy.ReasonPingTimeout, "no answer to ping", false)
		return
	default:
		// Output that went out meanwhile may have held the pong back while the client read
		// it: that counts as an answer. (Bytes moving say nothing alone: the ping moves some.)
		t.pingOut, t.pingMark = true, c.written
		c.out.push(queued{b: controlFrame(ws.OpPing, pingPayload), control: true})
		c.scheduleLocked()
	}
	t.ping.Reset(c.srv.cfg.PingInterval)
}

// ponged is the client's pong.
func (c *conn) ponged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timers.pingOut = false
}
