package metrics

import (
	"slices"
	"testing"

	"hubbub/internal/connpolicy"
)

// TestLabelsAreClosedSets feeds every observer label values from outside its set, and finds
// only "other" in their place.
func TestLabelsAreClosedSets(t *testing.T) {
	m := New()
	hostile := "kicked by opx: you said \x1b[31msomething\" } evil"
	// A close reason is a connpolicy.CloseReason: no text can be one, but a value out of its
	// range, or none, must not become a label either.
	m.Line().Closed(connpolicy.CloseReason(200))
	m.Line().Closed(connpolicy.ReasonNone)
	m.Line().Closed(connpolicy.ReasonKicked)
	m.Accepted(hostile)
	m.Refused("chat", hostile)
	m.Refused(hostile, "per_ip")
	m.Closed(hostile)

	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"hubbub_chat_connections_closed_total": {"kicked", "other"},
		"hubbub_connections_accepted_total":    {"other"},
		"hubbub_connections_open":              {"other"},
		"hubbub_connections_refused_total":     {"chat", "other", "other", "per_ip"},
	}
	for _, f := range families {
		w, ok := want[f.GetName()]
		if !ok {
			continue
		}
		var got []string
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				got = append(got, l.GetValue())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("%s labels %q, want %q", f.GetName(), got, w)
		}
		delete(want, f.GetName())
	}
	if len(want) > 0 {
		t.Errorf("not gathered: %v", want)
	}
}
