package chat

import (
	"fmt"
	"log/slog"
	"testing"
)

// TestBoundPresencesBelowListed: with an announce limit under maxLargeListed, /who of a room
// held only by other nodes, with more members than the limit but fewer than maxLargeListed,
// sliced past the list (a panic that dropped the asker). Found by review; a cluster's names
// are what fills the list, so the list is given here as they would give it.
func TestBoundPresencesBelowListed(t *testing.T) {
	for _, members := range []int{11, maxLargeListed - 1, maxLargeListed, maxLargeListed + 5} {
		cfg := DefaultConfig()
		cfg.AnnounceLimit = 10
		h := NewHub(cfg, slog.New(slog.DiscardHandler))
		out := RoomMembers{Room: "#far"}
		for i := range members {
			out.Members = append(out.Members, MemberInfo{Name: fmt.Sprintf("m%d", i)})
		}
		h.boundPresences(&out)
		if want := min(members, maxLargeListed); len(out.Members) != want || out.Total != members {
			t.Errorf("%d members: listed %d of %d, want %d of %d", members, len(out.Members), out.Total, want, members)
		}
	}
}
