package chat

import "strconv"

// kindNames are the kinds' stable names: lower case, one word or words joined by "_". They
// outlive a build: the history database keeps lines under them (a database written by an older
// hubbub must read the same), so a name, once given, is never changed or reused, however the
// Kinds are renumbered. A new Kind gets a name here; TestEveryKindHasAName says when one has
// none.
var kindNames = [...]string{
	KindPrompt:       "prompt",
	KindNameTaken:    "name_taken",
	KindWelcome:      "welcome",
	KindJoin:         "join",
	KindLeave:        "leave",
	KindChat:         "chat",
	KindAction:       "action",
	KindPrivate:      "private",
	KindNick:         "nick",
	KindTopic:        "topic",
	KindNotice:       "notice",
	KindRooms:        "rooms",
	KindMembers:      "members",
	KindCurrent:      "current",
	KindSecretPrompt: "secret_prompt",
	KindSecretDone:   "secret_done",
	KindQuit:         "quit",
	KindKick:         "kick",
	KindKicked:       "kicked",
	KindAway:         "away",
	KindOwner:        "owner",
}

// String returns k's stable name ("chat", "join", ...), or "kind(N)" for a number that is no
// Kind, which ParseKind does not take back.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind returns the Kind whose String is name, and false when there is none: name may come
// from a database or a peer of another version, so an unknown one is the caller's to handle.
func ParseKind(name string) (Kind, bool) {
	for k, n := range kindNames {
		if n == name && n != "" {
			return Kind(k), true
		}
	}
	return 0, false
}
