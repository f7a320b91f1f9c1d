package loadgen

import (
	"encoding/json"
	"testing"
)

// TestScanEvent holds the event scanner to encoding/json: where it claims an event, the
// fields are those encoding/json finds.
func TestScanEvent(t *testing.T) {
	// What the server sends is scanned; the rest may be left to encoding/json.
	for _, in := range []string{
		`{"kind":"message","room":"#lobby","from":"bob","text":"m 1 2 3","id":7,"time":"2026-11-29T22:00:00Z"}`,
		`{"kind":"prompt"}`,
		`{}`,
		`{"kind":"rooms","rooms":[{"name":"#a\"}","members":2}],"total":1}`,
		`{"kind":"message","from":"b\u00e9","text":"tab\there \"q\" \\ é 日本 <b>&amp;</b>"}`,
		`{"kind":"notice","text":"x","sent":true,"history":false}`,
		` { "kind" : "welcome" , "from" : "al" } `,
	} {
		var want wsEvent
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if got, ok := scanned(in); !ok || got != want {
			t.Errorf("%s: scanned %+v %v, want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{
		`{"kind":"message","text":"a\/b"}`,
		`{"kind":"message","text":"\ud83d\ude00"}`,
		`{"kind":"message","text":"\ud800"}`,
		`{"kind":"message","text":"unterminated`,
		`{"kind":1}`,
		`[{"kind":"message"}]`,
		`{"kind":"message"}x`,
	} {
		var want wsEvent
		werr := json.Unmarshal([]byte(in), &want)
		got, ok := scanned(in)
		if ok && (werr != nil || got != want) {
			t.Errorf("%s: scanned %+v, encoding/json says %+v (%v)", in, got, want, werr)
		}
	}
}

func FuzzScanEvent(f *testing.F) {
	f.Add(`{"kind":"message","room":"#lobby","from":"bob","text":"m 1 2 3","id":7}`)
	f.Add(`{"kind":"rooms","rooms":[{"name":"#a","members":2}],"total":1}`)
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := scanned(in)
		if !ok {
			return
		}
		var want wsEvent
		if err := json.Unmarshal([]byte(in), &want); err != nil || got != want {
			t.Errorf("%q: scanned %+v, encoding/json says %+v (%v)", in, got, want, err)
		}
	})
}

// scanned is scanEvent's view of in, as strings, to compare with what encoding/json decodes.
func scanned(in string) (wsEvent, bool) {
	v, ok := scanEvent([]byte(in))
	return wsEvent{Kind: string(v.Kind), From: string(v.From), To: string(v.To), Text: string(v.Text)}, ok
}
