package wsgateway

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// progressConn is the socket under a WebSocket. Each write may take as long as the client
// keeps taking data: it fails only when no byte went out for timeout. A deadline on the whole
// write would drop a reader that is slow but alive; none at all would keep a dead one forever.
type progressConn struct {
	net.Conn
	timeout time.Duration // 0: no deadline
}

func (c *progressConn) Write(p []byte) (int, error) {
	if c.timeout <= 0 {
		return c.Conn.Write(p)
	}
	written := 0
	for {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
			return written, fmt.Errorf("set write deadline: %w", err)
		}
		n, err := c.Conn.Write(p[written:])
		written += n
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return written, err
		}
		// Some bytes went out before the deadline: the client is reading, give it more time.
	}
}

// hijackWrapper hands the WebSocket library the hijacked socket wrapped by wrap, for reading
// and for writing.
type hijackWrapper struct {
	http.ResponseWriter
	wrap func(net.Conn) net.Conn
}

func (h *hijackWrapper) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// The response header went out before the hijack; anything still buffered goes now, to
	// the socket itself, before the writer is pointed at the wrapper.
	if err := brw.Writer.Flush(); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("flush before hijack: %w", err)
	}
	wc := h.wrap(nc)
	brw.Writer.Reset(wc)
	return wc, brw, nil
}
