package lineproto

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

const (
	tooLongMark = "<too long>"
	aytMark     = "<ayt>"
	aoMark      = "<ao>"
	replyMark   = "<reply>" // followed by the reply's bytes
)

// decodeChunks feeds chunks to a new decoder and returns the lines and the other events.
func decodeChunks(t testing.TB, max int, chunks ...[]byte) []string {
	t.Helper()
	d := NewTelnetDecoder(max)
	var got []string
	for _, p := range chunks {
		for len(p) > 0 {
			n, ev := d.Decode(p)
			if n == 0 {
				t.Fatalf("Decode made no progress on %q", p)
			}
			p = p[n:]
			switch ev {
			case LineReady:
				got = append(got, string(d.Line()))
			case LineTooLong:
				got = append(got, tooLongMark)
			case Reply:
				got = append(got, replyMark+string(d.Reply()))
			case AreYouThere:
				got = append(got, aytMark)
			case AbortOutput:
				got = append(got, aoMark)
			}
			if d.Pending() > max {
				t.Fatalf("decoder holds %d bytes, max %d", d.Pending(), max)
			}
		}
	}
	return got
}

// bytewise splits p into one-byte chunks.
func bytewise(p []byte) [][]byte {
	var out [][]byte
	for i := range p {
		out = append(out, p[i:i+1])
	}
	return out
}

func TestDecoder(t *testing.T) {
	tests := []struct {
		name string
		max  int
		in   string
		want []string
	}{
		{"LF", 100, "alice\nhello\n", []string{"alice", "hello"}},
		{"CRLF", 100, "alice\r\nhello\r\n", []string{"alice", "hello"}},
		{"CR NUL", 100, "alice\r\x00hello\r\x00", []string{"alice", "hello"}},
		{"mixed", 100, "a\nb\r\nc\r\x00", []string{"a", "b", "c"}},
		{"empty lines", 100, "\n\r\n", []string{"", ""}},
		{"no line end yet", 100, "partial", nil},
		{"lone CR ends a line", 100, "evil\rgood\n", []string{"evil", "good"}},
		{"CR CR LF", 100, "a\r\r\n", []string{"a", ""}},
		{"CR then a command", 100, "hi\r/oper x\r\n", []string{"hi", "/oper x"}},
		{"backspace", 100, "helo\x08lo\n", []string{"hello"}},
		{"DEL", 100, "ab\x7f\x7fcd\n", []string{"cd"}},
		{"backspace past start", 100, "\x08\x08x\n", []string{"x"}},
		{"backspace whole rune", 100, "caf\u00e9\x08e\n", []string{"cafe"}},
		{"backspace emoji", 100, "hi \U0001F600\x7f!\n", []string{"hi !"}},
		{"IAC option negotiation", 100, "\xff\xfb\x01\xff\xfd\x03hi\xff\xfc\x22\n", []string{"<reply>\xff\xfe\x01", "<reply>\xff\xfc\x03", "hi"}},
		{"IAC subnegotiation", 100, "\xff\xfa\x18\x00xterm\xff\xf0ok\n", []string{"ok"}},
		{"IAC IAC in subnegotiation", 100, "\xff\xfa\x18\xff\xff\xff\xf0ok\n", []string{"ok"}},
		{"unterminated subnegotiation ends", 100, "\xff\xfa" + strings.Repeat("z", 600) + "\nok\n", []string{strings.Repeat("z", 600-513), "ok"}},
		{"IAC IAC is data", 100, "a\xff\xffb\n", []string{"a\xffb"}},
		{"IAC NOP", 100, "a\xff\xf1b\n", []string{"ab"}},
		{"IAC erase char", 100, "abc\xff\xf7\n", []string{"ab"}},
		{"IAC erase line", 100, "abc\xff\xf8de\n", []string{"de"}},
		{"IAC before CR LF", 100, "ab\xff\xf1\r\n", []string{"ab"}},
		{"exactly max", 5, "12345\n", []string{"12345"}},
		{"one over max", 5, "123456\nok\n", []string{tooLongMark, "ok"}},
		{"far over max", 5, strings.Repeat("x", 1000) + "\nok\n", []string{tooLongMark, "ok"}},
		{"over max with CRLF", 5, "1234567\r\nok\r\n", []string{tooLongMark, "ok"}},
		{"backspace does not revive long line", 3, "abcd\x08\x08\nok\n", []string{tooLongMark, "ok"}},
		// What Debian's telnet (inetutils) sends for Ctrl-C, Ctrl-\ and Ctrl-Z: the command, then
		// DO TIMING-MARK, which must be answered or telnet shows nothing ever again.
		{"Ctrl-C", 100, "half a li\xff\xf4\xff\xfd\x06ne\r\n", []string{"<reply>\xff\xfb\x06", "ne"}},
		{"Ctrl-backslash", 100, "ab\xff\xf3\xff\xfd\x06cd\n", []string{"<reply>\xff\xfb\x06", "cd"}},
		{"Ctrl-Z", 100, "ab\xff\xed\xff\xfd\x06cd\n", []string{"<reply>\xff\xfb\x06", "cd"}},
		{"ABORT", 100, "ab\xff\xeecd\n", []string{"cd"}},
		{"autosynch adds IAC DM", 100, "ab\xff\xf4\xff\xfd\x06\xff\xf2cd\n", []string{"<reply>\xff\xfb\x06", "cd"}},
		{"every timing mark answered", 100, "\xff\xfd\x06\xff\xfd\x06", []string{"<reply>\xff\xfb\x06", "<reply>\xff\xfb\x06"}},
		{"IP ends a too long line", 3, "abcdef\xff\xf4gh\n", []string{tooLongMark, "gh"}},
		{"EL ends a too long line", 3, "abcdef\xff\xf8gh\n", []string{tooLongMark, "gh"}},
		{"AYT", 100, "ab\xff\xf6cd\n", []string{aytMark, "abcd"}},
		{"AO", 100, "ab\xff\xf5cd\n", []string{aoMark, "abcd"}},
		{"WILL refused once", 100, "\xff\xfb\x18\xff\xfb\x18\xff\xfb\x1fok\n", []string{"<reply>\xff\xfe\x18", "<reply>\xff\xfe\x1f", "ok"}},
		{"DO refused once", 100, "\xff\xfd\x01\xff\xfd\x03\xff\xfd\x01ok\n", []string{"<reply>\xff\xfc\x01", "<reply>\xff\xfc\x03", "ok"}},
		{"DO and WILL refused apart", 100, "\xff\xfd\x03\xff\xfb\x03", []string{"<reply>\xff\xfc\x03", "<reply>\xff\xfe\x03"}},
		{"WONT and DONT not answered", 100, "\xff\xfc\x01\xff\xfe\x03\xff\xfc\x06ok\n", []string{"ok"}},
		{"WILL TIMING-MARK refused", 100, "\xff\xfb\x06", []string{"<reply>\xff\xfe\x06"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			if got := decodeChunks(t, tt.max, in); !slices.Equal(got, tt.want) {
				t.Errorf("whole: got %q, want %q", got, tt.want)
			}
			if got := decodeChunks(t, tt.max, bytewise(in)...); !slices.Equal(got, tt.want) {
				t.Errorf("byte by byte: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecoderZeroCopy(t *testing.T) {
	d := NewTelnetDecoder(100)
	p := []byte("hello\nworld\r\n")
	n, ev := d.Decode(p)
	if ev != LineReady || n != 6 {
		t.Fatalf("Decode = %d, %v", n, ev)
	}
	if &d.Line()[0] != &p[0] {
		t.Error("a line wholly inside the input was copied")
	}
}

func TestDecoderRelease(t *testing.T) {
	d := NewTelnetDecoder(100)
	d.Decode([]byte("part"))
	d.Release()
	if d.Pending() != 4 {
		t.Fatalf("Release dropped a pending line")
	}
	d.Decode([]byte("ial\x7f\n"))
	if got := string(d.Line()); got != "partia" {
		t.Fatalf("line = %q", got)
	}
	d.Release()
	if d.line != nil {
		t.Error("Release kept an empty line buffer")
	}
}

func FuzzDecoder(f *testing.F) {
	for _, s := range []string{"a\nb\r\nc\r\x00", "\xff\xfb\x01hi\n", "\xff\xfa\x18xterm\xff\xf0", "ab\x08\x7f\n", "a\rb\n", strings.Repeat("z", 40) + "\n",
		"ab\xff\xf4\xff\xfd\x06cd\n", "\xff\xf6\xff\xf5\xff\xfd\x01\xff\xfd\x01\xff\xfb\x01"} {
		f.Add([]byte(s), uint8(16), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, max, split uint8) {
		m := int(max)%64 + 1
		whole := decodeChunks(t, m, in)
		var chunks [][]byte
		step := int(split)%7 + 1
		for i := 0; i < len(in); i += step {
			chunks = append(chunks, in[i:min(i+step, len(in))])
		}
		if split := decodeChunks(t, m, chunks...); !slices.Equal(whole, split) {
			t.Fatalf("splitting changed the result: %q vs %q", whole, split)
		}
		for _, line := range whole {
			if line == tooLongMark || line == aytMark || line == aoMark {
				continue
			}
			if reply, ok := strings.CutPrefix(line, replyMark); ok {
				if len(reply) != 3 || reply[0] != '\xff' {
					t.Fatalf("reply %q is not a telnet option command", reply)
				}
				continue
			}
			if len(line) > m {
				t.Fatalf("line of %d bytes passed max %d", len(line), m)
			}
			if bytes.ContainsAny([]byte(line), "\r\n\x08\x7f") {
				t.Fatalf("line %q holds a line end or an edit", line)
			}
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	in := bytes.Repeat([]byte("<bench> a chat line of typical length, here\r\n"), 100)
	d := NewTelnetDecoder(4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		p := in
		for len(p) > 0 {
			n, _ := d.Decode(p)
			p = p[n:]
		}
	}
}
