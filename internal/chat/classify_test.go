package chat

import (
	"log/slog"
	"testing"
)

func TestMistypedCommand(t *testing.T) {
	h := NewHub(DefaultConfig(), slog.New(slog.DiscardHandler))
	for _, tt := range []struct {
		text string
		want string // "" when the line is chat
	}{
		{"A/oper s3cret", "oper"},   // ESC O A, cleaned
		{"AAB/whois bob", "whois"},  // three arrow keys
		{"   /kick bob", "kick"},    // leading spaces
		{"./ME waves", "me"},        // a slip of the finger
		{"[A/history", "history"},   // a CSI that lost its ESC
		{"please /oper me", "oper"}, // the password never goes to a room
		{"so, /OPER hunter2", "oper"},
		{"you/me, tonight?", ""},
		{"http://example.com/help", ""},
		{"see /usr/bin", ""},
		{"A/operator", ""},
		{"A/OPER\u00a0wrong", "oper"},    // a no-break space after the command
		{"AAAAAAAAA/oper wrong", "oper"}, // more stray keys than a first word allows
		{"x/oper wrong", "oper"},         // a letter before it
		{"x/oper", "oper"},
		{"/opera tonight?", ""},
		{"the documentation says you should run /oper", ""}, // far from the start
		{"hello", ""},
		{"", ""},
	} {
		got, ok := h.mistypedCommand(tt.text)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("mistypedCommand(%q) = %q, %v; want %q", tt.text, got, ok, tt.want)
		}
	}
}
