package lineproto

import (
	"testing"

	"hubbub/internal/chat"
)

// TestDropReason holds the reasons the chat gives for ending a connection to the closed set
// that becomes a metric label: a reason this transport does not know is "dropped", never itself.
func TestDropReason(t *testing.T) {
	tests := []struct {
		in   chat.DropReason
		want closeReason
	}{
		{chat.DropKicked, reasonKicked},
		{chat.DropBanned, reasonBanned},
		{chat.DropReason("kicked\nby <script>"), reasonDropped},
		{"", reasonDropped},
	}
	for _, tt := range tests {
		if got := dropReason(tt.in); got != tt.want {
			t.Errorf("dropReason(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
