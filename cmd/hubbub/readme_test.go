package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"hubbub/internal/chat"
)

// TestREADMECommands holds the README's table of commands to what /help lists: every command is
// there with its usage and words, and nothing else is.
func TestREADMECommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"//TEXT": "say a line that starts with /"}
	for _, c := range chat.Commands() {
		want[c.Usage] = c.About
	}
	row := regexp.MustCompile("^\\| `(/.*)` \\| (.*) \\|$")
	seen := map[string]bool{}
	for line := range strings.Lines(string(readme)) {
		m := row.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		usage := strings.ReplaceAll(m[1], `\|`, "|") // escaped for the Markdown table
		about, ok := want[usage]
		switch {
		case !ok:
			t.Errorf("README.md lists %q, which /help does not", usage)
		case about != m[2]:
			t.Errorf("README.md says %q does %q, /help says %q", usage, m[2], about)
		}
		seen[usage] = true
	}
	for usage := range want {
		if !seen[usage] {
			t.Errorf("README.md does not list %q", usage)
		}
	}
}
