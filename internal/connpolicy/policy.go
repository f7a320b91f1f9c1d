// Package connpolicy is what every chat transport applies to a connection, written once: the
// limits a client is held to (Limits), the line rate with its burst and flood detection
// (Bucket), the slow-reader rule (Backlog), the register and write timeouts, and why a
// connection ended (CloseReason), for logs and metric labels. A transport brings what differs:
// its framing, its encoder and its writer. A rule copied into two transports drifts; a rule
// here is the same for telnet, the browser and whatever connects next.
//
// # Locking
//
// Nothing here takes a lock. A Bucket belongs to its connection's read loop; a Backlog is
// guarded by the lock of the connection that holds it (lineproto's and wsgateway's conn.mu),
// and its methods are called with that lock held. The Queue a transport hands to Admit is
// the queue that lock guards. A transport's lock order is in its own package documentation.
package connpolicy

import (
	"time"

	"hubbub/internal/chat"
)

// Limits are the limits every transport holds a client to. Each has a flag in cmd/hubbub.
type Limits struct {
	MaxLine int // longest line a client may send, in bytes (a transport's framing may add to it)
	// MaxQueue bounds the bytes queued to one connection: past it, the oldest room lines queued
	// are skipped (the client is told once); output that cannot be skipped is queued up to
	// HardCapFactor times MaxQueue (see Admit).
	MaxQueue        int
	WriteTimeout    time.Duration // a socket that takes no byte for this long drops the connection
	RegisterTimeout time.Duration // time to choose a name before the connection is closed; 0: none
	LineRate        float64       // lines per second one connection may send; 0: no limit
	LineBurst       int           // lines that may be sent at once before LineRate applies
	// FloodAfter is how long a client held back by LineRate without let-up may go on before it
	// counts as flooding; 0: never. A paste is held back too, and must arrive whole: at the
	// default rate, a minute lets a paste of 600 lines (plus the burst) through.
	FloodAfter time.Duration
	// PingInterval is how often a transport that can ping (the WebSocket) pings an idle
	// connection; a missing answer drops it. 0: never. The line transport has no ping: telnet
	// has none that every client answers.
	PingInterval time.Duration
}

// GoneLinger is how long the input of a client that went with a reset (writing to it failed)
// is still read and said, at the line rate: what a paste may take to arrive whole (FloodAfter),
// so that a paste followed at once by a close is said as if the client had stayed; at least
// floor. Past it the connection, and its name, are let go.
func (l Limits) GoneLinger(floor time.Duration) time.Duration {
	if l.LineRate <= 0 || l.FloodAfter <= 0 {
		return floor
	}
	return max(l.FloodAfter, floor)
}

// DefaultLimits returns the defaults documented in the README and in --help.
func DefaultLimits() Limits {
	return Limits{
		MaxLine:         4096,
		MaxQueue:        256 << 10,
		WriteTimeout:    10 * time.Second,
		RegisterTimeout: 60 * time.Second,
		LineRate:        10,
		LineBurst:       30,
		FloodAfter:      time.Minute,
		PingInterval:    30 * time.Second,
	}
}

// HardCapFactor times MaxQueue bounds the output queued to a client beyond what can be skipped
// at MaxQueue (private messages, answers to the client's own commands). Past it private
// messages are skipped as well, and only answers remain (see Admit).
const HardCapFactor = 4

// RegisterDeadline is when a connection that started at start and has no name yet is closed
// with NoticeRegisterTimeout; zero: never.
func (l Limits) RegisterDeadline(start time.Time) time.Time {
	if l.RegisterTimeout <= 0 {
		return time.Time{}
	}
	return start.Add(l.RegisterTimeout)
}

// WriteDeadline is the deadline of a write to a client's socket that begins at now.
//
// The rule: a client is dropped only when its socket takes no byte for WriteTimeout, never for
// taking a large backlog slowly, and then about WriteTimeout after the last byte it took (the
// writers of package flush move a waiting write's deadline on while the client takes bytes).
// A deadline on the whole backlog would drop a reader that is slow but alive; none would keep
// a dead one forever. Zero: no deadline.
func (l Limits) WriteDeadline(now time.Time) time.Time {
	if l.WriteTimeout <= 0 {
		return time.Time{}
	}
	return now.Add(l.WriteTimeout)
}

// Notices every transport sends in the same words, each in its own encoding.
var (
	// NoticeRegisterTimeout is the last thing a client that never chose a name is told.
	NoticeRegisterTimeout = &chat.Message{Kind: chat.KindNotice, Text: "timed out waiting for your name, goodbye"}
	// NoticeShutdown is the last thing every client is told when the server stops.
	NoticeShutdown = &chat.Message{Kind: chat.KindNotice, Text: "server shutting down"}
	// NoticePingTimeout is the last thing a client that did not answer a ping is told (a
	// transport that pings: IRC's ERROR), should it still read.
	NoticePingTimeout = &chat.Message{Kind: chat.KindNotice, Text: "ping timeout: no answer to PING"}
)
