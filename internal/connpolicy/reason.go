package connpolicy

import "hubbub/internal/chat"

// CloseReason says why a connection ended. The first reason a connection records is the one
// logged and counted, as a metric label: it is a closed set, and nothing a client sends (a
// kick reason, a name) can become one.
type CloseReason uint8

// The reasons. The zero value, ReasonNone, means none was recorded yet.
const (
	ReasonNone            CloseReason = iota
	ReasonClientClosed                // the client closed the connection
	ReasonQuit                        // the user said /quit
	ReasonReadError                   // reading from the socket failed
	ReasonSlowConsumer                // the client let more than the hard cap of its own answers pile up
	ReasonWriteTimeout                // the socket took no byte for WriteTimeout
	ReasonWriteError                  // writing to the socket failed
	ReasonRegisterTimeout             // no name within RegisterTimeout
	ReasonShutdown                    // the server is stopping
	ReasonPanic                       // a bug while serving the connection
	ReasonBanned                      // the chat refused the address or account (chat.DropBanned)
	ReasonKicked                      // an operator or room owner removed the user (chat.DropKicked)
	ReasonLoggedOut                   // the account's owner ended this device's session (chat.DropLoggedOut)
	ReasonDropped                     // by the chat, for a reason this package does not know
	ReasonPingTimeout                 // no answer to a ping
	ReasonProtocolError               // the client broke its transport's protocol (a binary WebSocket message)
	numReasons
)

// reasonWords are the labels: the words logs and metrics have always used.
var reasonWords = [numReasons]string{
	ReasonNone:            "none",
	ReasonClientClosed:    "client closed",
	ReasonQuit:            "quit",
	ReasonReadError:       "read error",
	ReasonSlowConsumer:    "slow consumer",
	ReasonWriteTimeout:    "write timeout",
	ReasonWriteError:      "write error",
	ReasonRegisterTimeout: "register timeout",
	ReasonShutdown:        "server shutdown",
	ReasonPanic:           "panic",
	ReasonBanned:          "banned",
	ReasonKicked:          "kicked",
	ReasonLoggedOut:       "logged out",
	ReasonDropped:         "dropped",
	ReasonPingTimeout:     "ping timeout",
	ReasonProtocolError:   "protocol error",
}

// String returns the reason's label, as logs and metrics show it.
func (r CloseReason) String() string {
	if r < numReasons {
		return reasonWords[r]
	}
	return "other"
}

// Valid reports whether r is one of the reasons a connection ends with (not ReasonNone).
func (r CloseReason) Valid() bool { return r > ReasonNone && r < numReasons }

// CloseReasons returns every reason a connection can end with (not ReasonNone), for whoever
// needs the closed set of labels up front, such as a metric.
func CloseReasons() []CloseReason {
	out := make([]CloseReason, 0, numReasons-1)
	for r := ReasonNone + 1; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// FromDrop maps the chat's reason for ending a connection to a CloseReason. A reason the chat
// adds later is ReasonDropped until it is named here: chat.DropReason is a string, and its
// value never becomes a label.
func FromDrop(r chat.DropReason) CloseReason {
	switch r {
	case chat.DropKicked:
		return ReasonKicked
	case chat.DropBanned:
		return ReasonBanned
	case chat.DropLoggedOut:
		return ReasonLoggedOut
	}
	return ReasonDropped
}

// Observer is told what a transport does, for metrics. Its methods are called on hot paths:
// they must be cheap and must not block.
type Observer interface {
	LineReceived()
	RateLimited()
	// Wrote says a connection's output was handed to the socket: messages, bytes written,
	// and the bytes that were queued before the write.
	Wrote(messages, bytes, queued int)
	// Closed says a chat connection ended, and why.
	Closed(reason CloseReason)
}

// NoObserver is an Observer that does nothing.
type NoObserver struct{}

func (NoObserver) LineReceived()      {}
func (NoObserver) RateLimited()       {}
func (NoObserver) Wrote(_, _, _ int)  {}
func (NoObserver) Closed(CloseReason) {}
