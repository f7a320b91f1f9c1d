package lineproto_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

// TestFloodIsMuted has a telnet user go on sending faster than the line rate: it is read more
// slowly, and once held back for FloodAfter without let-up it is muted, as a browser is
// (wsgateway's TestFloodIsMuted): the rule is connpolicy's, for every transport.
func TestFloodIsMuted(t *testing.T) {
	cfg := testConfig()
	cfg.LineRate, cfg.LineBurst, cfg.FloodAfter = 20, 5, 300*time.Millisecond
	srv := chattest.Start(t, cfg)
	c := chattest.Join(t, srv.Addr, "flooder")
	c.Write(strings.Repeat("spam\r\n", 100)) // small lines: the socket takes them all at once
	for {
		line := c.ReadLine()
		if strings.HasPrefix(line, "*** you are sending too fast: muted for") {
			return
		}
	}
}

// semicolons is a framing of another line protocol, as IRC brings its own: lines end with ';'
// and messages are written as "> text". It stands for a transport that reuses the TCP engine
// (queues, flushers, limits) with nothing of telnet's.
type semicolons struct {
	max  int
	line []byte
	out  []byte
}

func (d *semicolons) Decode(p []byte) (int, lineproto.Event) {
	for i, c := range p {
		if c == ';' {
			d.out, d.line = d.line, d.line[:0:0]
			return i + 1, lineproto.LineReady
		}
		if len(d.line) < d.max {
			d.line = append(d.line, c)
		}
	}
	return len(p), lineproto.NeedMore
}
func (d *semicolons) Line() []byte   { return d.out }
func (d *semicolons) Reply() []byte  { return nil }
func (d *semicolons) Release()       {}
func (d *semicolons) SetHiding(bool) {}

type arrows struct{}

func (arrows) Encode(m *chat.Message) []byte {
	switch m.Kind {
	case chat.KindChat:
		return fmt.Appendf(nil, "> %s says %s\r\n", m.From, m.Text)
	case chat.KindPrompt:
		return []byte("> name?\r\n")
	}
	return fmt.Appendf(nil, "> %v %s %s\r\n", m.Kind, m.From, m.Text)
}

// TestFraming serves a framing of another protocol with the line transport's engine: its
// decoder frames what clients send, and its encoder writes what they get.
func TestFraming(t *testing.T) {
	srv := chattest.Start(t, testConfig(), func(s *lineproto.Server) {
		s.SetFraming(lineproto.Framing{
			NewDecoder: func(max int) lineproto.Decoder { return &semicolons{max: max} },
			Encoder:    arrows{},
		})
	})
	join := func(name string) *chattest.Client {
		c := chattest.Dial(t, srv.Addr)
		c.Expect("> name?")
		c.Write(name + ";")
		for !strings.Contains(c.ReadLine(), name) { // the welcome
		}
		return c
	}
	alice := join("alice")
	bob := join("bob")
	for !strings.Contains(alice.ReadLine(), "bob") {
	}
	bob.Write("hello\r\nthere;")
	alice.Expect("> bob says hellothere") // the CR LF is no line end here; the chat drops it
}
