package loadgen_test

import (
	"net"
	"strings"
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

// TestWSNothingListening runs the WebSocket scenarios against a port nobody listens on: each
// connection fails with an error the run reports (the dialer once closed the nil connection of
// a failed dial, and the bench panicked).
func TestWSNothingListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // connections to it are refused from now on
	o := opts(addr)
	o.WS = true
	o.Timeout = 10 * time.Second
	r, err := loadgen.Run(t.Context(), loadgen.Conns(loadgen.ConnsConfig{Conns: 3, RunID: "wn"}), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := false
	for e := range r.Errors {
		refused = refused || strings.Contains(e, "refused")
	}
	if r.Counts["registered"] != 0 || !refused {
		t.Fatalf("counts %v, errors %v: want none registered and the refusals reported", r.Counts, r.Errors)
	}
}
