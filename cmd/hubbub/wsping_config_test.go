package main

import (
	"io"
	"testing"
	"time"
)

// TestWSPingIntervalFlag: --ws-ping-interval and its environment variable reach the
// WebSocket gateway, with the other limits every transport shares; a negative one is refused.
func TestWSPingIntervalFlag(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
		bad  bool
	}{
		{"default", nil, nil, 30 * time.Second, false},
		{"flag", []string{"--ws-ping-interval", "5s"}, nil, 5 * time.Second, false},
		{"environment", nil, map[string]string{"HUBBUB_WS_PING_INTERVAL": "0"}, 0, false},
		{"negative", []string{"--ws-ping-interval", "-1s"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := noEnv
			if tt.env != nil {
				env = func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			}
			cfg, err := parseConfig(append([]string{"--line-rate", "3"}, tt.args...), env, io.Discard)
			if tt.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ws := cfg.wsConfig()
			if ws.PingInterval != tt.want || ws.LineRate != 3 || ws.MaxQueue != cfg.Line.MaxQueue {
				t.Errorf("ping interval %v, line rate %v, max queue %d: want %v, 3, %d", ws.PingInterval, ws.LineRate, ws.MaxQueue, tt.want, cfg.Line.MaxQueue)
			}
		})
	}
}
