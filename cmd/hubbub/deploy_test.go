package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnit has systemd check deploy/hubbub.service (with ExecStart pointed at the
// binary under test, since systemd checks that it exists): no error and no warning, and the
// sandboxing the README promises is there.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (.ci/run installs it: apt-get install -y systemd)")
	}
	unit, err := os.ReadFile("../../deploy/hubbub.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=hubbub", "--data-dir=${STATE_DIRECTORY}",
		"ProtectSystem=strict", "NoNewPrivileges=yes", "LimitNOFILE=", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(text, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	path := filepath.Join(t.TempDir(), "hubbub.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/hubbub", binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
