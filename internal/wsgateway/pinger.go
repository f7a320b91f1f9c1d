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
		if c.busy() {
			continue // the socket's write deadline watches a client that has output coming
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			if c.nc.progressSince(start) && !c.isClosing() {
				continue // the pong waits behind output the client is still reading
			}
			c.finish(websocket.StatusPolicyViolation, connpolicy.ReasonPingTimeout, "no answer to ping", false)
			c.ws.CloseNow()
			return
		}
	}
}
