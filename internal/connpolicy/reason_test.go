package connpolicy

import (
	"slices"
	"testing"

	"hubbub/internal/chat"
)

// TestFromDrop holds the reasons the chat gives for ending a connection to the closed set that
// becomes a metric label: a reason this package does not know is "dropped", never itself.
func TestFromDrop(t *testing.T) {
	tests := []struct {
		in   chat.DropReason
		want CloseReason
	}{
		{chat.DropKicked, ReasonKicked},
		{chat.DropBanned, ReasonBanned},
		{chat.DropLoggedOut, ReasonLoggedOut},
		{chat.DropReason("kicked\nby <script>"), ReasonDropped},
		{"", ReasonDropped},
	}
	for _, tt := range tests {
		if got := FromDrop(tt.in); got != tt.want {
			t.Errorf("FromDrop(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestCloseReasonLabels keeps the labels logs and dashboards have always used, one per reason,
// and "other" for a value outside the set.
func TestCloseReasonLabels(t *testing.T) {
	var labels []string
	for _, r := range CloseReasons() {
		if !r.Valid() {
			t.Errorf("%d is listed but not valid", r)
		}
		labels = append(labels, r.String())
	}
	for _, old := range []string{"client closed", "quit", "read error", "slow consumer", "write timeout",
		"write error", "register timeout", "server shutdown", "panic", "banned", "kicked", "logged out", "dropped"} {
		if !slices.Contains(labels, old) {
			t.Errorf("label %q is gone", old)
		}
	}
	slices.Sort(labels)
	if len(slices.Compact(labels)) != len(CloseReasons()) {
		t.Errorf("two reasons share a label: %q", labels)
	}
	if ReasonNone.Valid() || CloseReason(200).Valid() || CloseReason(200).String() != "other" {
		t.Error("a reason outside the set passes for one")
	}
}
