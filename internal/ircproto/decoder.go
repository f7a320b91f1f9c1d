package ircproto

import (
	"bytes"

	"hubbub/internal/lineproto"
)

// lineDecoder frames IRC lines: each ends at LF, with the CR before it (if any) dropped; a
// lone CR ends a line too, as some clients send. It holds at most max bytes of a line.
type lineDecoder struct {
	max        int
	line       []byte // the line so far, when it spans reads
	out        []byte // the last line returned
	discarding bool   // the current line passed max; drop it up to its end
	afterCR    bool   // the last byte was a CR: an LF right after it ends nothing more
}

func newLineDecoder(max int) lineproto.Decoder { return &lineDecoder{max: max} }

// Decode implements lineproto.Decoder.
func (d *lineDecoder) Decode(p []byte) (int, lineproto.Event) {
	n := 0
	if d.afterCR && len(p) > 0 && p[0] == '\n' {
		n = 1
	}
	d.afterCR = false
	i := bytes.IndexAny(p[n:], "\r\n")
	if i < 0 {
		return len(p), d.add(p[n:])
	}
	end := n + i
	if ev := d.add(p[n:end]); ev == lineproto.LineTooLong {
		// Reported once; the rest of the line is dropped below.
		d.discarding = true
		return end, ev
	}
	used := end + 1
	if p[end] == '\r' {
		if used < len(p) && p[used] == '\n' {
			used++
		} else if used == len(p) {
			d.afterCR = true
		}
	}
	if d.discarding {
		d.discarding = false
		d.line = d.line[:0]
		return used, lineproto.NeedMore
	}
	if len(d.line) > 0 {
		d.out = append(d.out[:0], d.line...)
		d.line = d.line[:0]
	} else {
		d.out = p[n:end]
	}
	return used, lineproto.LineReady
}

// add keeps part of a line that goes on.
func (d *lineDecoder) add(p []byte) lineproto.Event {
	if d.discarding {
		return lineproto.NeedMore
	}
	if len(d.line)+len(p) > d.max {
		d.line = d.line[:0]
		d.discarding = true
		return lineproto.LineTooLong
	}
	if len(p) > 0 {
		d.line = append(d.line, p...)
	}
	return lineproto.NeedMore
}

// Line implements lineproto.Decoder.
func (d *lineDecoder) Line() []byte { return d.out }

// Reply implements lineproto.Decoder: IRC has nothing to answer below the line.
func (d *lineDecoder) Reply() []byte { return nil }

// Release implements lineproto.Decoder.
func (d *lineDecoder) Release() {
	d.out = nil
	if len(d.line) == 0 {
		d.line = nil
	}
}

// SetHiding implements lineproto.Decoder; IRC clients hide passwords themselves.
func (d *lineDecoder) SetHiding(bool) {}
