package accept

import (
	"net"
	"time"
)

// IdleDeadline keeps a connection's read and write deadline at least Timeout after its last
// activity, without setting it on every read and write: each SetDeadline moves a runtime timer,
// which costs a request/response service as much as a tenth of its time per round trip. The
// deadline is set Timeout plus a slack of Timeout/16 ahead, and moved again only once the slack
// is used up, so an idle connection ends between Timeout and Timeout×17/16 after its last
// activity (never sooner), and a busy one moves its deadline at most 16 times per Timeout.
type IdleDeadline struct {
	c       net.Conn
	timeout time.Duration
	slack   time.Duration
	armed   time.Time // when the deadline was last set; zero: never
}

// NewIdleDeadline returns the deadline of c for an idle timeout; Touch sets it.
func NewIdleDeadline(c net.Conn, timeout time.Duration) IdleDeadline {
	return IdleDeadline{c: c, timeout: timeout, slack: timeout / 16}
}

// Touch says the connection was active now: its deadline moves if the last one set is about to
// fall short of now plus the timeout.
func (d *IdleDeadline) Touch() {
	now := time.Now()
	if !d.armed.IsZero() && now.Sub(d.armed) < d.slack {
		return
	}
	d.armed = now
	d.c.SetDeadline(now.Add(d.timeout + d.slack))
}
