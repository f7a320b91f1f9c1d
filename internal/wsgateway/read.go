package wsgateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"hubbub/internal/wsframe"
	"runtime/debug"
	"sync"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
)

// How input is read.
//
// An idle connection holds no goroutine and no buffer: the server's poller waits for its
// socket to be readable, and only then does a goroutine borrow a buffer, read what the socket
// holds without waiting, pass the frames in it to the chat, and hand the socket back to the
// poller. A frame that is not complete yet waits in a slice of its own (bounded by
// MaxMessage), as does a message sent in fragments. Over TLS (a stream that may hold decrypted
// bytes its socket does not show) the connection has a goroutine of its own blocked in Read.

// readBufSize is the size of the buffer a connection borrows for one read.
const readBufSize = 4096

var readBufs = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// frameReader is what a connection's reader keeps between reads. Used only by the reader.
type frameReader struct {
	partial    []byte    // the start of a frame not complete yet; nil between frames
	msg        []byte    // a fragmented message so far
	msgOp      ws.OpCode // the opcode of its first frame
	fragmented bool      // a fragmented message is being read
	broken     bool      // a protocol error was met: the rest of the input is not framed
}

// readReady reads what the socket holds without waiting for more, then hands the socket back
// to the poller, or ends the connection when it is closed. The poller runs it on a goroutine
// of its own when the socket is readable.
func (c *conn) readReady() {
	defer func() {
		if r := recover(); r != nil {
			c.panicked(r)
			c.end()
		}
	}()
	buf := readBufs.Get().(*[readBufSize]byte)
	for {
		var n int
		var rerr error
		err := c.raw.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf[:])
			return true // never wait here: the poller does
		})
		if err == nil {
			err = rerr
		}
		if n > 0 {
			c.consume(buf[:n])
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
		case err != nil || n == 0: // failed, or closed
			readBufs.Put(buf)
			c.end()
			return
		case n == len(buf):
			continue // there may be more
		}
		break
	}
	readBufs.Put(buf)
	if err := c.srv.poll.arm(c); err != nil {
		c.srv.log.Error("websocket: waiting for input", "remote", c.remote, "err", err)
		c.closeNow(connpolicy.ReasonReadError)
		c.end()
	}
}

// readStream reads a stream that is not a kernel socket (TLS) with blocking reads, until it
// ends, and then ends the connection.
func (c *conn) readStream() {
	defer c.end()
	defer func() {
		if r := recover(); r != nil {
			c.panicked(r)
		}
	}()
	buf := make([]byte, readBufSize)
	for {
		n, err := c.sock.Read(buf)
		if n > 0 {
			c.consume(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// panicked closes c after a panic while serving it, logging the stack.
func (c *conn) panicked(r any) {
	c.srv.log.Error("panic serving connection", "service", "ws", "remote", c.remote,
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	c.closeNow(connpolicy.ReasonPanic)
}

// consume passes the frames in p, after what an earlier read left, to frame.
func (c *conn) consume(p []byte) {
	r := &c.rd
	if r.broken {
		return
	}
	data := p
	if r.partial != nil {
		r.partial = append(r.partial, p...)
		data = r.partial
	}
	for len(data) > 0 {
		h, n, ok := wsframe.ParseHeader(data)
		if !ok {
			break
		}
		if err := c.checkHeader(h); err != nil {
			c.protocolError(err)
			return
		}
		if int64(len(data)-n) < h.Length {
			break
		}
		payload := data[n : n+int(h.Length)]
		ws.Cipher(payload, h.Mask, 0)
		data = data[n+int(h.Length):]
		if !c.frame(h, payload) {
			r.broken, r.partial, r.msg = true, nil, nil // the connection ends: what follows is not read
			return
		}
	}
	switch {
	case len(data) == 0:
		r.partial = nil
	case r.partial == nil || &data[0] != &r.partial[0]:
		r.partial = append([]byte(nil), data...) // not the borrowed buffer: it goes back
	}
}

// errTooBig is a message longer than MaxMessage.
var errTooBig = errors.New("message too big")

// checkHeader checks h, the header of a frame from the client, against RFC 6455 and the
// limits: a frame whose payload would take the message past MaxMessage fails before it is read.
func (c *conn) checkHeader(h ws.Header) error {
	if h.Length < 0 {
		return errors.New("a frame length's top bit must be 0") // RFC 6455 5.2
	}
	state := ws.StateServerSide
	if c.rd.fragmented {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return err
	}
	if h.OpCode.IsData() || h.OpCode == ws.OpContinuation {
		if h.Length > int64(c.srv.cfg.MaxMessage-len(c.rd.msg)) {
			return errTooBig
		}
	}
	return nil
}

// protocolError ends the connection for a frame that breaks the protocol or the limits, with
// the close code that says which (1009 or 1002), and reads nothing more.
func (c *conn) protocolError(err error) {
	c.rd.broken, c.rd.partial, c.rd.msg = true, nil, nil
	code, text := ws.StatusProtocolError, err.Error()
	if errors.Is(err, errTooBig) {
		code, text = ws.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", c.srv.cfg.MaxMessage)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishLocked(code, connpolicy.ReasonProtocolError, text, true)
	c.closeAtOnce = true // what the client sends is not read any more: its close frame neither
}

// frame acts on one whole, unmasked frame, and reports whether to read on.
func (c *conn) frame(h ws.Header, p []byte) bool {
	r := &c.rd
	switch h.OpCode {
	case ws.OpPing:
		c.control(ws.OpPong, p)
		return true
	case ws.OpPong:
		c.ponged()
		return true
	case ws.OpClose:
		return c.closeReceived(p)
	case ws.OpContinuation:
		r.msg = append(r.msg, p...)
		if !h.Fin {
			return true
		}
		op, msg := r.msgOp, r.msg
		r.msg, r.fragmented = nil, false
		return c.message(op, msg)
	}
	if !h.Fin {
		r.fragmented, r.msgOp, r.msg = true, h.OpCode, append([]byte(nil), p...)
		return true
	}
	return c.message(h.OpCode, p)
}

// closeReceived answers the client's close frame, whose payload is p, and reports whether to
// read on (no: the connection is ending).
func (c *conn) closeReceived(p []byte) bool {
	if len(p) == 1 {
		c.protocolError(errors.New("close frame of one byte"))
		return false
	}
	code, reason := ws.ParseCloseFrameData(p)
	if len(p) >= 2 {
		if err := ws.CheckCloseFrameData(code, reason); err != nil {
			c.protocolError(err)
			return false
		}
		if code >= 5000 { // RFC 6455 7.4.2: no such code may be sent (gobwas lets them through)
			c.protocolError(fmt.Errorf("close code %d", code))
			return false
		}
	}
	c.peerClosed(code, reason)
	return false
}

// message acts on one whole message from the browser, and reports whether to read on.
func (c *conn) message(op ws.OpCode, data []byte) bool {
	if c.ignoresInput() {
		return true // what a client sends after it was told to go is ignored
	}
	// Every message counts against the line rate, a malformed one too: each gets an answer,
	// and a client must not make the server answer as fast as it can send. A client that keeps
	// it up is muted, as on the line transport.
	if !c.bucket.Take(c.ending, c.session, c.srv.obs) {
		return false
	}
	c.srv.obs.LineReceived()
	if op != ws.OpText {
		c.finish(ws.StatusUnsupportedData, connpolicy.ReasonProtocolError, "send JSON text messages", true)
		return true
	}
	var in input
	if err := json.Unmarshal(data, &in); err != nil || in.Type != "line" {
		c.Deliver(noticeBadMessage)
		return true
	}
	if len(in.Text) > c.srv.cfg.MaxLine {
		// As on the line transport: the JSON around a line must not let it pass --max-line.
		c.Deliver(c.srv.lineTooLong)
		c.session.TooLong()
		c.answered()
		return true
	}
	if err := c.session.Handle([]byte(in.Text)); errors.Is(err, chat.ErrQuit) {
		c.session.Close()
		c.finish(ws.StatusNormalClosure, connpolicy.ReasonQuit, "quit", true)
	}
	if c.session.Registered() {
		c.registered.Store(true)
	}
	c.answered()
	return true
}

// answered lets what the client's own input produced (a prompt, a reply to a command) skip the
// hold its flusher may put on it under a storm, so that talking to the server keeps the pace of
// a conversation however loud the room is.
func (c *conn) answered() {
	c.mu.Lock()
	queued := c.flushQueued
	c.mu.Unlock()
	if queued {
		c.flusher.Hurry(c)
	}
}
