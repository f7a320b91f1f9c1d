package connpolicy

import "time"

// Bucket paces the lines one connection sends: a token bucket of LineRate tokens a second,
// holding up to LineBurst. A client held back without let-up for FloodAfter is flooding. It
// belongs to the connection's read loop and is not safe for concurrent use; the zero value
// allows everything.
type Bucket struct {
	rate       float64
	burst      float64
	tokens     float64
	last       time.Time
	floodAfter time.Duration
	heldSince  time.Time // when the client began to send faster than the rate, without let-up; zero: not held
}

// NewBucket returns a full bucket for the rate, burst and flood rule of l.
func NewBucket(l Limits) Bucket {
	burst := float64(max(l.LineBurst, 1))
	return Bucket{rate: l.LineRate, burst: burst, tokens: burst, last: time.Now(), floodAfter: l.FloodAfter}
}

// Flooder is told that its client floods: the chat session mutes it (chat.Session.Flooding).
type Flooder interface{ Flooding() }

// Take waits until the rate allows one more line. Waiting, instead of dropping lines, slows a
// flooding client down: its transport stops reading, and the kernel stops taking its data once
// the receive buffer fills. Each line held back is counted on obs; once the client has been
// held back for FloodAfter without let-up, f is told, once per such stretch. Take reports false
// when done was closed while it waited.
func (b *Bucket) Take(done <-chan struct{}, f Flooder, obs Observer) bool {
	if b.rate <= 0 {
		return true
	}
	now := time.Now()
	b.tokens = min(b.tokens+now.Sub(b.last).Seconds()*b.rate, b.burst)
	b.last = now
	if b.tokens < 1 {
		obs.RateLimited()
		if b.heldSince.IsZero() {
			b.heldSince = now
		} else if b.floodAfter > 0 && now.Sub(b.heldSince) > b.floodAfter {
			b.heldSince = time.Time{}
			f.Flooding()
		}
		t := time.NewTimer(time.Duration((1 - b.tokens) / b.rate * float64(time.Second)))
		select {
		case <-t.C:
		case <-done:
			t.Stop()
			return false
		}
		b.tokens, b.last = 1, time.Now()
	} else {
		b.heldSince = time.Time{}
	}
	b.tokens--
	return true
}
