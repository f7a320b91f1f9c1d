package chat

import (
	"fmt"
	"time"
)

// The typed domain API: what a member can do, as methods that say what went wrong with a
// typed *Error rather than an English notice. The slash commands (command.go) are one front
// end over them, turning an Error into its Text; an IRC transport maps each Code to its
// numeric reply, the WebSocket to an error event. Success is shown by the events it causes
// (a nick change, a line, a part), which every front end renders its own way, or returned as
// a value for what a member asks to see (Who, Whois, Rooms, RoomTopic, Bans, History,
// Search): the slash commands put those into words, or into a KindMembers or KindRooms list.
//
// The methods:
//   - rooms: Join, Part, Say, Action, Topic, RoomTopic, Who, Rooms (room_commands.go);
//   - people: Private, Nick (command.go), Away, Whois, Ignore, Unignore, Ignoring (people.go);
//   - rights: Oper (oper.go), Kick, Mute, Unmute, Ban, Unban, Bans (moderation.go);
//   - what was said: History (history.go), Search (search.go).
//
// Locking: each method takes Hub.mu (through lockLive) for what it reads or changes of the
// chat, and never holds it across a wait on history (Lines.Recent, Search, findAccount) or a
// password check; changes of membership are published under it (docs/architecture.md). A
// method called on a device no longer in the chat does nothing and returns no error.
// Muted members: a typed method fails with CodeMuted each time; the slash front end says so
// at most once a minute (refuseIfMuted).

// ErrorCode says what kind of failure an Error is. Each transport maps the codes in one
// place: lineproto shows Error.Text, IRC answers with a numeric.
type ErrorCode uint8

// The failures. The IRC numeric each will map to is in its comment.
const (
	CodeNoSuchName     ErrorCode = iota + 1 // no one online holds the name, or no account has it (401)
	CodeNoSuchRoom                          // no room of that name (403)
	CodeNotInRoom                           // the member is not in the room (442)
	CodeTheyNotInRoom                       // the one named is not in the room (441)
	CodeNotAllowed                          // the member's rights do not allow it (482, 481; 491 for /oper)
	CodeNameInUse                           // someone online holds the name, or a look-alike (433)
	CodeBadName                             // not a valid name, or reserved (432)
	CodeNameRegistered                      // the name is another's account (433, with a reason)
	CodeNameBanned                          // the name is banned (432, with a reason)
	CodeNeedArgs                            // something needed is missing (461, 411, 412)
	CodeMuted                               // the member may not talk now (404)
	CodeTooManyRooms                        // in as many rooms as allowed (405)
	CodeNotOnSelf                           // the member named itself (e.g. a kick)
	CodeUnavailable                         // the server cannot do it just now (a store failing, busy)
	CodeNotOffered                          // this server does not offer it: no history, no operator password (421; 491 for OPER)
	CodeWrongPassword                       // the password given is wrong (464)
	CodeTryLater                            // asked again too soon: wait, as Text says, and try again (263)
	CodeBadValue                            // an argument is malformed: a duration, an address (461, with the reason)
	CodeNotListed                           // nothing to take back: the one named is not ignored, not banned (a NOTICE; no numeric fits)
)

// Error is a failure of a member's action: Code for programs, Text for people, already safe
// to show (user text in it is cleaned).
type Error struct {
	Code ErrorCode
	Text string
}

func (e *Error) Error() string { return e.Text }

func fail(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

// is reports whether err is an *Error with the code.
func is(err error, code ErrorCode) bool {
	e, ok := err.(*Error)
	return ok && e.Code == code
}

// mutedError is what a typed method returns to a muted member: each time, while the slash
// front end says it once a minute (refuseIfMuted).
func (s *Session) mutedError() error {
	if left := s.muted(); left > 0 {
		return fail(CodeMuted, "you are muted for another %v", left.Round(time.Second))
	}
	return nil
}

// tell shows err to the member on this device as a notice, when it is an *Error, and
// reports whether there was one. The slash commands use it.
func (s *Session) tell(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := err.(*Error); ok {
		s.notice(e.Text)
	} else {
		s.notice(err.Error())
	}
	return true
}
