package wsgateway

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"hubbub/internal/connpolicy"
)

// pingLoop pings the browser every PingInterval (--ws-ping-interval): a connection that does
// not answer is dropped, so that a vanished client does not hold its name.
func (c *conn) pingLoop() {
	if c.srv.cfg.PingInterval <= 0 {
		return
	}
	t := time.NewTicker(c.srv.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ending:
			return
		case <-t.C:
		}
		busy, written := c.busy()
		if busy {
			continue // the socket's write deadline watches a client that has output coming
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			// Output that came meanwhile may hold the pong back while the client reads it.
			// (Bytes moving on the socket say nothing here: the ping itself moves some.)
			if busy, w := c.busy(); (busy || w != written) && !c.isClosing() {
				continue
			}
			c.finish(websocket.StatusPolicyViolation, connpolicy.ReasonPingTimeout, "no answer to ping", false)
			c.ws.CloseNow()
			return
		}
	}
}
