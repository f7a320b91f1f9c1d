// Package ircproto is the chat's IRC front door: one more transport over the same chat.Hub,
// for irssi, WeeChat and any IRC client. It speaks the client protocol (RFC 1459/2812 as the
// Modern IRC Client Protocol clarifies them, IRCv3 capability negotiation) and knows no room
// rule: each command is a call of the chat's typed API (chat.Session's Join, Say, Private,
// Kick...), each chat.ErrorCode has its numeric in one table (numerics.go), each chat.Message
// kind its IRC line in one place (encode.go). It reuses lineproto's TCP engine as it is (the
// queue, the flushers, the limits, the slow-reader rule) with a Framing of its own.
//
// # Locking
//
// client.mu guards what Deliver (called by the chat under its locks, from any goroutine)
// shares with the read loop: the nick the client knows itself by, the channels it was told it
// is in, an open history batch. Nothing under it calls into the chat or blocks; it comes after
// the chat's locks and before lineproto's conn.mu.
package ircproto

import (
	"log/slog"
	"time"

	"hubbub/internal/accept"
	"hubbub/internal/chat"
	"hubbub/internal/connpolicy"
	"hubbub/internal/lineproto"
)

// Service is the listener's name in logs and metrics.
const Service = "irc"

// NewServer returns a server that leads IRC clients to hub, admitting those limiter allows,
// held to cfg's limits (cfg.PingInterval: how long an idle client may send nothing before it
// is pinged, and then to answer).
func NewServer(cfg lineproto.Config, hub *chat.Hub, limiter *accept.Limiter, log *slog.Logger) *lineproto.Server {
	// An IRC line is at most 512 bytes, and 8191 more of tags; a client may send that much
	// whatever the line chat allows.
	cfg.MaxLine = max(cfg.MaxLine, 512+8191)
	started := time.Now()
	srv := lineproto.NewServer(cfg, hub, limiter, log)
	srv.SetFraming(lineproto.Framing{
		NewDecoder:   newLineDecoder,
		Encoder:      plainEnc,
		Service:      Service,
		PingInterval: cfg.PingInterval,
		QuietTooLong: true, // 417

		NewSession: func(c *lineproto.Conn) (lineproto.Session, error) {
			return newClient(c, hub, log, started, cfg.MaxQueue), nil
		},
	})
	return srv
}

// answerBytes bounds the lists one IRC command asks for (LIST, NAMES, WHO of a channel; the
// names of every channel a NAMES alone or a JOIN of several names, together) to a quarter of
// the client's queue, as the chat bounds its own answers (chat.DefaultAnswerBytes, a quarter of
// the default --max-queue): what a client asks for is held up to the hard cap
// (connpolicy.Admit), past which a client that asks for more than it reads is dropped as a slow
// consumer. An answer larger than that would drop a client that reads every answer, at the
// first LIST of a server with many channels.
func answerBytes(maxQueue int) int { return max(maxQueue/4, 4*maxLine) }

// unreadAnswers bounds what may wait for a client when a list is built for it: half the hard
// cap. Commands sent one after another before the client reads (a client's JOIN of its
// channels, then NAMES and WHO of each, in one write) get shorter lists as the answers pile
// up, never enough to pass the hard cap. Room lines wait up to --max-queue only (past it they
// are skipped), so a client whose queue is full of chatter still gets whole lists; the other
// half is left to private messages and the one-line answers (a PONG, a 366), which alone can
// still take a client that asks and never reads past the hard cap.
func unreadAnswers(maxQueue int) int { return connpolicy.HardCapFactor * maxQueue / 2 }
