package loadgen

import (
	"bytes"
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
		`{"kind":"message","room":"#lobby","from":"bb591-48","text":"m bb591 3 17 1796009764394452107"}`,
		`{"kind":"message","kind":"notice","to":"","text":"{\"}:,"}`,
		`{"kind":"message","id":12,"from":"a","sent":true,"text":"t"}`,
		`{"kind":"message","from":"a","text":"t","time":"2026-11-30T03:36:07.769123456Z"}`,
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
		`{"Kind":"message","text":"x"}`,
		`{"kind":"message","TEXT":"x"}`,
		`{"kind":"message","tO":"x"}`,
		`{"kind":"message","\u212aind":"notice"}`,
		`{"kind":"message","fro\u006d":"x","text":"y"}`,
		"{\"kind\":\"message\",\"text\":\"a long line past a word\x01 and on\"}",
		"{\"kind\":\"message\",\"text\":\"a long line past a word\xff and on\"}",
		`{"kind":"message","text":"\ud83d\ude00"}`,
		`{"kind":"message","text":"\ud800"}`,
		`{"kind":"message","text":"unterminated`,
		`{"kind":1}`,
		`[{"kind":"message"}]`,
		`{"kind":"message"}x`,
		`{"kind":"message"}}`,
		`{"kind":"message",}`,
		`{"kind":"message","text":"a"`,
		`{"kind":"message","text":"a}`,
		`{"kind":"message" ,"text":"a"}`,
		`{"kind":"message","text"}`,
		`{"kind":"message","text":}`,
		`{"kind":"message","":""}`,
	} {
		var want wsEvent
		werr := json.Unmarshal([]byte(in), &want)
		got, ok := scanned(in)
		if ok && (werr != nil || got != want) {
			t.Errorf("%s: scanned %+v, encoding/json says %+v (%v)", in, got, want, werr)
		}
	}
}

// TestScanCompact checks that the events of a fan-out take the one-pass path, and that what
// it cannot read in one pass is left to the full scan.
func TestScanCompact(t *testing.T) {
	for _, in := range []string{fanoutEvent, `{}`, `{"kind":"prompt"}`, `{"kind":"message","kind":"notice","to":""}`,
		`{"to":"b","room":"#a","x":"","kind":"private","from":"a","text":"kind: room"}`} {
		if _, ok := scanCompact([]byte(in)); !ok {
			t.Errorf("%s: not read in one pass", in)
		}
	}
	for _, in := range []string{
		`{"kind":"message","text":"tab\there"}`,
		`{"kind":"message","text":"é"}`,
		`{"kind":"message","id":7}`,
		`{ "kind":"message"}`,
		`{"Kind":"message"}`,
		`{"kind":"message","kind":1}`,
		`{"kind":"message","tO":"x"}`,
		`{"kind":"message","room":"#a"`,
	} {
		if _, ok := scanCompact([]byte(in)); ok {
			t.Errorf("%s: read in one pass", in)
		}
	}
}

func FuzzScanEvent(f *testing.F) {
	f.Add(`{"kind":"message","room":"#lobby","from":"bob","text":"m 1 2 3","id":7}`)
	f.Add(`{"kind":"rooms","rooms":[{"name":"#a","members":2}],"total":1}`)
	f.Add(`{"kind":"message","room":"#lobby","from":"bb591-48","text":"m bb591 3 17 1796009764394452107","time":"2026-11-30T03:36:07.769123456Z"}`)
	f.Add(`{"Kind":"message","tO":"aé\u212a","text":"\"quoted\" and tab\t"}`)
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

// TestPlainEnd holds the word-at-a-time scan of a string's plain bytes to a byte-at-a-time one:
// each byte that ends a plain run (a quote, a backslash, a control character, a byte past
// ASCII; the edges of each class), at each offset of a word and after the last whole word.
func TestPlainEnd(t *testing.T) {
	for _, c := range []byte{'"', '\\', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xa0, 0xc3, 0xff} {
		for n := range 40 {
			for at := range n + 1 {
				b := bytes.Repeat([]byte{'a'}, n)
				if at < n {
					b[at] = c
				}
				// Bytes that end a run may follow: they must not hide the first one.
				b = append(b, '"', 0x05, '\\')
				for from := range min(n, 9) + 1 {
					want := from
					for want < len(b) && plainJSON[b[want]] {
						want++
					}
					if got := plainEnd(b, from); got != want {
						t.Fatalf("%q from %d: %d, want %d", b, from, got, want)
					}
				}
			}
		}
	}
	// Plain bytes next to the classes' edges: ' ' (0x20), '!', '#', '[', ']', '~'.
	b := []byte(` !#[]~ !#[]~ !#[]~"`)
	if got := plainEnd(b, 0); got != len(b)-1 {
		t.Fatalf("%q: %d, want %d", b, got, len(b)-1)
	}
}
