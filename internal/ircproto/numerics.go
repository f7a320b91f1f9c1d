package ircproto

import (
	"errors"

	"hubbub/internal/chat"
)

// numerics maps each chat.ErrorCode to the numeric that answers it: the one place where the
// chat's failures become IRC's. A code missing here is answered with 400 (ERR_UNKNOWNERROR).
// CodeNotListed has no numeric that fits and is answered with a NOTICE.
var numerics = map[chat.ErrorCode]string{
	chat.CodeNoSuchName:     "401", // ERR_NOSUCHNICK
	chat.CodeNoSuchRoom:     "403", // ERR_NOSUCHCHANNEL
	chat.CodeNotInRoom:      "442", // ERR_NOTONCHANNEL
	chat.CodeTheyNotInRoom:  "441", // ERR_USERNOTINCHANNEL
	chat.CodeNotAllowed:     "482", // ERR_CHANOPRIVSNEEDED (OPER: 491)
	chat.CodeNameInUse:      "433", // ERR_NICKNAMEINUSE
	chat.CodeBadName:        "432", // ERR_ERRONEUSNICKNAME
	chat.CodeNameRegistered: "433", // with the reason: an account's name
	chat.CodeNameBanned:     "432", // with the reason
	chat.CodeNeedArgs:       "461", // ERR_NEEDMOREPARAMS
	chat.CodeMuted:          "404", // ERR_CANNOTSENDTOCHAN
	chat.CodeTooManyRooms:   "405", // ERR_TOOMANYCHANNELS
	chat.CodeNotOnSelf:      "400",
	chat.CodeUnavailable:    "400",
	chat.CodeNotOffered:     "421", // ERR_UNKNOWNCOMMAND (OPER: 491)
	chat.CodeWrongPassword:  "464", // ERR_PASSWDMISMATCH
	chat.CodeTryLater:       "263", // RPL_TRYAGAIN
	chat.CodeBadValue:       "461",
}

// numericOf returns the numeric for err, and its text; "" for an error that is no *chat.Error
// (the server's own trouble) or has no numeric.
func numericOf(err error) (numeric, text string) {
	var e *chat.Error
	if !errors.As(err, &e) {
		return "400", "the server cannot do that just now"
	}
	if e.Code == chat.CodeNotListed {
		return "", e.Text
	}
	if n, ok := numerics[e.Code]; ok {
		return n, e.Text
	}
	return "400", e.Text
}
