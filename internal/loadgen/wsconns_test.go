package loadgen_test

import (
	"testing"
	"time"

	"hubbub/internal/loadgen"
)

// TestConnsWS opens and registers connections over WebSocket and holds them (`bench conns
// --ws`): every one registers, and each reads the joins of those after it.
func TestConnsWS(t *testing.T) {
	_, wsAddr := wsChat(t)
	o := opts(wsAddr)
	o.WS = true
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 30, Hold: 10 * time.Millisecond, RunID: "cw"}), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, r, map[string]int64{"registered": 30})
}
