package loadgen

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// TestReadHeader holds the bench's in-place header reader to gobwas/ws's.
func TestReadHeader(t *testing.T) {
	for _, h := range []ws.Header{
		{Fin: true, OpCode: ws.OpText, Length: 5},
		{Fin: true, OpCode: ws.OpText, Length: 125},
		{Fin: false, OpCode: ws.OpBinary, Length: 126},
		{Fin: true, OpCode: ws.OpContinuation, Length: 300},
		{Fin: true, OpCode: ws.OpText, Length: 70000},
		{Fin: true, OpCode: ws.OpPing, Length: 3, Masked: true, Mask: [4]byte{1, 2, 3, 4}},
		{Fin: true, OpCode: ws.OpText, Length: 65536, Masked: true, Mask: [4]byte{9, 8, 7, 6}},
		{Fin: true, Rsv: 4, OpCode: ws.OpClose, Length: 0},
	} {
		var buf bytes.Buffer
		if err := ws.WriteHeader(&buf, h); err != nil {
			t.Fatal(err)
		}
		buf.WriteString("rest")
		w := &wsClient{br: bufio.NewReader(&buf)}
		got, err := w.readHeader()
		if err != nil || got != h {
			t.Errorf("read %+v, %v; want %+v", got, err, h)
		}
		if rest, _ := w.br.Peek(4); string(rest) != "rest" {
			t.Errorf("%+v: the header's bytes were not all consumed: %q follows", h, rest)
		}
	}
	w := &wsClient{br: bufio.NewReader(bytes.NewReader([]byte{0x81, 0x7e, 0x01}))}
	if _, err := w.readHeader(); err == nil {
		t.Error("a header cut short was read")
	}
}
