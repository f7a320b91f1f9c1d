package wsgateway

import (
	"context"
	"errors"
	"os"

	"github.com/coder/websocket"

	"hubbub/internal/connpolicy"
)

// writeLoop writes queued events until the connection is finished, then closes it with its
// code and reason. A write has no deadline of its own: the socket's (progressConn) drops a
// client that takes no data for WriteTimeout, and only that, however long the write takes.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		for !c.pendingLocked() && !c.closing {
			c.wake.Wait()
		}
		if !c.pendingLocked() || (c.closing && !c.flushLast) {
			code, text, flush := c.closeCode, c.closeText, c.flushLast
			c.mu.Unlock()
			if flush {
				c.ws.Close(code, closeText(text))
			}
			return
		}
		// Events that queued up while the last write went out go in one message, as a JSON
		// array: one frame and one system call for many events, when the room is busy.
		msgs, n := c.takeLocked()
		queued := c.out.size + msgs.size
		c.writing = true
		c.mu.Unlock()
		msg := msgs.events[0]
		if len(msgs.events) > 1 {
			msg = batch(msgs.events)
		}
		err := c.ws.Write(context.Background(), websocket.MessageText, msg)
		c.mu.Lock()
		c.writing = false
		if err == nil {
			c.written++
		}
		c.mu.Unlock()
		if err != nil {
			reason := connpolicy.ReasonWriteError
			if errors.Is(err, os.ErrDeadlineExceeded) {
				reason = connpolicy.ReasonWriteTimeout
			}
			c.finish(websocket.StatusPolicyViolation, reason, "connection lost", false)
			c.ws.CloseNow()
			return
		}
		c.srv.obs.Wrote(n, len(msg), queued)
	}
}

// maxBatch bounds the bytes of events sent in one message.
const maxBatch = 64 << 10

// batch joins events into one JSON array.
func batch(events [][]byte) []byte {
	size := 1 + len(events)
	for _, e := range events {
		size += len(e)
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}
