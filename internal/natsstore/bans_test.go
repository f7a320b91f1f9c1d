package natsstore_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natsnode"
	"hubbub/internal/natsstore"
)

// banList is what s.Bans says, as sorted text: "name mallory" or "addr 10.0.0.0/8", with
// "+" when timed.
func banList(t *testing.T, s *natsstore.Store) []string {
	t.Helper()
	bans, err := s.Bans(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range bans {
		x := "name " + b.Name
		if b.Name == "" {
			x = "addr " + b.Address.String()
		}
		if !b.Until.IsZero() {
			x += "+"
		}
		out = append(out, x)
	}
	slices.Sort(out)
	return out
}

func waitBans(t *testing.T, s *natsstore.Store, want ...string) {
	t.Helper()
	var got []string
	chattest.WaitFor(t, "bans "+strings.Join(want, ", "), func() bool {
		got = banList(t, s)
		return slices.Equal(got, want)
	})
}

// TestBans: bans saved on one node are read on the others, in the order they were made; a ban
// of a name replaces the ban of a look-alike, and lifting one lifts the look-alike's; a timed
// ban keeps its end.
func TestBans(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	a, b, c := nodes[0].store, nodes[1].store, nodes[2].store
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	a.SaveBan(chat.Ban{Name: "Mallory"})
	a.SaveBan(chat.Ban{Address: netip.MustParsePrefix("203.0.113.0/24"), Until: until})
	a.SaveBan(chat.Ban{Name: "eve", Until: until})
	a.SaveBan(chat.Ban{Address: netip.MustParsePrefix("2001:db8::/48")})
	a.SaveBan(chat.Ban{Name: "not a name!"}) // refused, as sqlite refuses it
	waitBans(t, b, "addr 2001:db8::/48", "addr 203.0.113.0/24+", "name Mallory", "name eve+")
	bans, err := c.Bans(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range bans {
		if !x.Until.IsZero() && !x.Until.Equal(until) {
			t.Errorf("%+v: want until %v", x, until)
		}
	}

	b.SaveBan(chat.Ban{Name: "rnallory"}) // looks like Mallory: replaces its ban
	waitBans(t, c, "addr 2001:db8::/48", "addr 203.0.113.0/24+", "name eve+", "name rnallory")
	c.DeleteBan(chat.Ban{Name: "MALLORY"}) // lifts rnallory's
	c.DeleteBan(chat.Ban{Address: netip.MustParsePrefix("2001:db8::/48")})
	c.SaveBan(chat.Ban{Name: "trudy"})
	waitBans(t, a, "addr 203.0.113.0/24+", "name eve+", "name trudy")

	// In order: a ban lifted right after it was made stays lifted.
	a.SaveBan(chat.Ban{Name: "oscar"})
	a.DeleteBan(chat.Ban{Name: "oscar"})
	a.SaveBan(chat.Ban{Name: "peggy"})
	waitBans(t, b, "addr 203.0.113.0/24+", "name eve+", "name peggy", "name trudy")
}

// TestTimedBanExpires: a timed ban expires by itself: its key is gone from the bucket (the
// server's TTL removes it, whoever is running) and no node lists it.
func TestTimedBanExpires(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	nodes[0].store.SaveBan(chat.Ban{Name: "eve", Until: time.Now().Add(2 * time.Second)})
	nodes[0].store.SaveBan(chat.Ban{Name: "mallory", Until: time.Now().Add(time.Hour)})
	waitBans(t, nodes[1].store, "name eve+", "name mallory+")
	kv, err := nodes[2].js.KeyValue(t.Context(), natsnode.BansBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := "n." + natsnode.Hex(parse(t, "eve").Keys()[0])
	chattest.WaitFor(t, "eve's ban expires in the bucket", func() bool {
		_, err := kv.Get(t.Context(), key)
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	})
	for _, nd := range nodes {
		if got := banList(t, nd.store); !slices.Equal(got, []string{"name mallory+"}) {
			t.Errorf("after eve's ban ended: %q", got)
		}
	}
}

// TestBansWrittenBeforeClose: a ban queued just before the store closes is kept.
func TestBansWrittenBeforeClose(t *testing.T) {
	nodes := startStores(t, natsstore.Config{})
	s, err := natsstore.New(t.Context(), nodes[0].js, natsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"eve", "mallory", "trudy"} {
		s.SaveBan(chat.Ban{Name: name})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.SaveBan(chat.Ban{Name: "late"}) // after Close: dropped (and logged), never a panic
	waitBans(t, nodes[1].store, "name eve", "name mallory", "name trudy")
}
