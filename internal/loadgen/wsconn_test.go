package loadgen

import (
	"bufio"
	"bytes"
	"io"
	"strings"
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

// TestReadMessage reads messages of every shape a server may send, one after another through
// a small buffer: those read in place (one unmasked frame the buffer holds) and the rest
// (fragmented, masked, larger than the buffer), each whole and in order.
func TestReadMessage(t *testing.T) {
	var stream bytes.Buffer
	frame := func(fin bool, op ws.OpCode, masked bool, p string) {
		t.Helper()
		h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(p)), Masked: masked}
		b := []byte(p)
		if masked {
			h.Mask = [4]byte{1, 2, 3, 4}
			ws.Cipher(b, h.Mask, 0)
		}
		if err := ws.WriteHeader(&stream, h); err != nil {
			t.Fatal(err)
		}
		stream.Write(b)
	}
	big := strings.Repeat("b", 100)
	want := []string{"one", "two", "frag-mented", "masked", big, "", "last"}
	frame(true, ws.OpText, false, "one")
	frame(true, ws.OpText, false, "two")
	frame(false, ws.OpText, false, "frag-")
	frame(true, ws.OpContinuation, false, "mented")
	frame(true, ws.OpText, true, "masked")
	frame(true, ws.OpText, false, big) // more than the reader's buffer
	frame(true, ws.OpBinary, false, "")
	frame(true, ws.OpPong, false, "p")
	frame(true, ws.OpText, false, "last")

	w := &wsClient{br: bufio.NewReaderSize(&stream, 64)}
	for _, s := range want {
		got, err := w.readMessage()
		if err != nil || string(got) != s {
			t.Fatalf("read %q, %v; want %q", got, err, s)
		}
	}
	w.release()
	if _, err := w.readMessage(); err != io.EOF {
		t.Fatalf("read past the end: %v, want EOF", err)
	}
}

// fanoutEvent is what hubbub's gateway sends a browser for a line of the fan-out.
const fanoutEvent = `{"kind":"message","room":"#lobby","from":"bb591-48","text":"m bb591 3 17 1796009764394452107"}`

// repeatReader reads b again and again, as a socket full of one event would.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.b[r.off:])
		n += k
		r.off = (r.off + k) % len(r.b)
	}
	return n, nil
}

// BenchmarkReadWSLine is the bench's cost of reading one fan-out event from a WebSocket (the
// frame's header, the event's fields, the line made of it), beside BenchmarkReadRawLine's for
// the same line from the line door.
func BenchmarkReadWSLine(b *testing.B) {
	var frames bytes.Buffer
	for range 64 {
		frames.Write([]byte{0x81, byte(len(fanoutEvent))})
		frames.WriteString(fanoutEvent)
	}
	lc := &lineConn{ws: &wsClient{br: bufio.NewReaderSize(&repeatReader{b: frames.Bytes()}, 16<<10)}}
	for b.Loop() {
		line, err := lc.readLine()
		if err != nil || len(line) == 0 {
			b.Fatal(line, err)
		}
	}
}

func BenchmarkReadRawLine(b *testing.B) {
	lc := &lineConn{r: bufio.NewReaderSize(&repeatReader{b: []byte("<bb591-48> m bb591 3 17 1796009764394452107\r\n")}, 16<<10)}
	for b.Loop() {
		line, err := lc.readLine()
		if err != nil || len(line) == 0 {
			b.Fatal(line, err)
		}
	}
}
