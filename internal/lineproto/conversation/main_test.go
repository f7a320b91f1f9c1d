package conversation_test

import (
	"testing"

	"go.uber.org/goleak"

	"hubbub/internal/chattest"
	"hubbub/internal/metrics"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// clock is a test's clock: it moves only when told.
type clock = chattest.Clock

func newClock() *clock { return chattest.NewClock() }

// joinThree registers alice, bob and carol at addr, each having heard of those after them.
func joinThree(t *testing.T, addr string) (alice, bob, carol *chattest.Client) {
	t.Helper()
	alice = chattest.Join(t, addr, "alice")
	bob = chattest.Join(t, addr, "bob")
	carol = chattest.Join(t, addr, "carol")
	alice.Expect("bob has joined the channel", "carol has joined the channel")
	bob.Expect("carol has joined the channel")
	return alice, bob, carol
}

// counters returns the values of the counter family name in m, by its one label's value.
func counters(t *testing.T, m *metrics.Metrics, name string) map[string]float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, c := range f.GetMetric() {
			got[c.GetLabel()[0].GetValue()] = c.GetCounter().GetValue()
		}
	}
	return got
}
