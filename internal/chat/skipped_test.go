package chat

import (
	"strings"
	"testing"
)

func TestPrivateSkipsNotices(t *testing.T) {
	tests := []struct {
		from []string
		kept bool
		want string
	}{
		{[]string{"bob"}, true, "1 private message from bob skipped: you read slower than they come; /history bob to read them"},
		{[]string{"bob", "carol", "bob"}, true, "3 private messages from bob and carol skipped: you read slower than they come; /history NAME to read them"},
		{[]string{"a", "b", "c", "d", "a"}, true, "5 private messages from a, b, c and others skipped: you read slower than they come; /history NAME to read them"},
		{[]string{"bob", "x\x1b[2Jy"}, false, "2 private messages from bob and xy lost: you read slower than they come, and this server keeps no copy"},
	}
	for _, tt := range tests {
		var p PrivateSkips
		for _, f := range tt.from {
			p.Add(f, tt.kept)
		}
		var texts []string
		for _, m := range p.Notices() {
			texts = append(texts, m.Text)
		}
		if got := strings.Join(texts, "|"); got != tt.want {
			t.Errorf("from %q: got %q, want %q", tt.from, got, tt.want)
		}
	}
}
