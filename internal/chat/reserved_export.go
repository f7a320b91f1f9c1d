package chat

import "log/slog"

// IsReserved reports whether the server refuses n as a user's name for being reserved (or
// looking like a reserved name or a command), so that a tool outside the server, such as
// `hubbub account create`, refuses what the server would. It asks a hub made for the purpose,
// so that the rule stays the one the server applies.
func IsReserved(n Name) bool {
	return NewHub(Config{}, slog.New(slog.DiscardHandler)).isReserved(n)
}
