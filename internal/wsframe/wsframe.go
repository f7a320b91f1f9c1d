// Package wsframe reads a WebSocket frame's header in place, from bytes already received: the
// gateway parses its clients' frames out of a borrowed read buffer, the bench out of a
// buffered reader, and neither allocates per frame (gobwas/ws's ReadHeader does).
package wsframe

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// ParseHeader parses the header of a frame at the start of p, and returns its length in bytes.
// It reports ok false when p does not hold all of it yet; n is then the length needed, once p
// holds the first two bytes (0 before).
func ParseHeader(p []byte) (h ws.Header, n int, ok bool) {
	if len(p) < 2 {
		return h, 0, false
	}
	h.Fin = p[0]&0x80 != 0
	h.Rsv = (p[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(p[0] & 0x0f)
	h.Masked = p[1]&0x80 != 0
	n = 2
	switch l := p[1] & 0x7f; l {
	case 126:
		n += 2
	case 127:
		n += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		n += 4
	}
	if len(p) < n {
		return h, n, false
	}
	switch n - 2 - 4*btoi(h.Masked) {
	case 2:
		h.Length = int64(binary.BigEndian.Uint16(p[2:]))
	case 8:
		h.Length = int64(binary.BigEndian.Uint64(p[2:])) // negative when the top bit is set, which RFC 6455 5.2 forbids: the caller refuses it
	}
	if h.Masked {
		copy(h.Mask[:], p[n-4:n])
	}
	return h, n, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
