package loadgen

import (
	"slices"
	"testing"
)

func TestIRCFields(t *testing.T) {
	tests := []struct {
		line   string
		cmd    string
		params []string
	}{
		{":hubbub 366 b1-2 #lobby :End of /NAMES list", "366", []string{"b1-2", "#lobby", "End of /NAMES list"}},
		{"@time=2026-11-29T10:00:00Z :a!u@hubbub PRIVMSG #x :m r 1 2 3", "PRIVMSG", []string{"#x", "m r 1 2 3"}},
		{"PING :hubbub", "PING", []string{"hubbub"}},
		{"ERROR :Closing link", "ERROR", []string{"Closing link"}},
		{":a!u@h  PART  #x", "PART", []string{"#x"}},
		{"", "", nil},
	}
	for _, tt := range tests {
		cmd, params := ircFields([]byte(tt.line))
		if cmd != tt.cmd || !slices.Equal(params, tt.params) {
			t.Errorf("ircFields(%q) = %q %q, want %q %q", tt.line, cmd, params, tt.cmd, tt.params)
		}
	}
}
