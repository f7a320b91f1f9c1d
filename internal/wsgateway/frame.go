package wsgateway

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"hubbub/internal/chat"
)

// What goes out is written as whole frames, each made once: a server's frames are not masked
// (RFC 6455 5.1), so a chat message's frame is the same bytes for every browser, and the
// message caches it (chat.Message.Encoded) as the line transport caches its line. A queue
// holds references to frames and a flusher writes many with one writev.

// frameEncoding renders chat messages as text frames holding their JSON event.
type frameEncoding struct{}

// frameFormat is frameEncoding as every message keeps it.
var frameFormat = chat.NewFormat(frameEncoding{})

// Encode implements chat.Encoder.
func (frameEncoding) Encode(m *chat.Message) []byte { return textFrame(jsonEncoding{}.Encode(m)) }

// maxHeader is the longest header of a server frame: no mask, a 64-bit length.
const maxHeader = 10

// appendHeader appends the header of a final, unmasked frame of op with n bytes of payload.
func appendHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
}

// textFrame returns a text frame holding payload.
func textFrame(payload []byte) []byte {
	return append(appendHeader(make([]byte, 0, maxHeader+len(payload)), ws.OpText, len(payload)), payload...)
}

// controlFrame returns a control frame of op holding payload, cut to the 125 bytes a control
// frame may hold.
func controlFrame(op ws.OpCode, payload []byte) []byte {
	payload = payload[:min(len(payload), ws.MaxControlFramePayloadSize)]
	return append(appendHeader(make([]byte, 0, 2+len(payload)), op, len(payload)), payload...)
}

// closeFrame returns a close frame with code and reason (cut to fit, see closeText). Code 0
// sends an empty close frame: the answer to one that had no code (1005 is never sent).
func closeFrame(code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return controlFrame(ws.OpClose, nil)
	}
	return controlFrame(ws.OpClose, ws.NewCloseFrameBody(code, closeText(reason)))
}

// maxCloseReason is the most a close frame's reason may hold, in bytes (RFC 6455 5.5: a
// control frame's payload is at most 125 bytes, two of them the code).
const maxCloseReason = 123

// closeText cuts text to fit a close frame, at a character boundary, so that the page can
// always say why it was closed.
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
