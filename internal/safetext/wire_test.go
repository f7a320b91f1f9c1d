package safetext_test

import (
	"testing"

	"go.uber.org/goleak"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/lineproto"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestInvisibleTextOverTheWire has alice send lines full of invisible characters and stacked
// marks to a real server over TCP: bob gets them cleaned, with what real writing needs (an
// emoji ZWJ sequence, a Persian ZWNJ, a Hindi half form, Vietnamese accents) intact, and a
// line of nothing but invisible characters is not sent at all.
func TestInvisibleTextOverTheWire(t *testing.T) {
	line := lineproto.DefaultConfig()
	line.LineRate = 0
	srv := chattest.StartChat(t, line, chat.DefaultConfig(), nil)
	alice := chattest.Join(t, srv.Addr, "alice")
	bob := chattest.Join(t, srv.Addr, "bob")
	alice.Expect("bob has joined the channel")

	zalgo := "e\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030a\u030b\u030c"
	for _, tt := range []struct{ send, want string }{
		{
			"pass\u200bword\u200c \ufeffad\u2060min\u00ad \u200e\u200f\u061c\u2061\u2062\u2063\u2064\u206a\u206f ok",
			"<alice> password admin  ok",
		},
		{"hi\U000e0001\U000e0068\U000e0069\U000e007f \u3164\u115f\u1160\uffa0\u034f\u180b\u180e\U0001d173 there", "<alice> hi  there"},
		{"Z" + zalgo + zalgo + "!", "<alice> Ze\u0301\u0302\u0303\u0304e\u0301\u0302\u0303\u0304!"},
		{"e\u0301\u0302\u200b\u0303\u034f\u0304\u2060\u0305\u0306", "<alice> e\u0301\u0302\u0303\u0304"},
		{
			"\U0001f468\u200d\U0001f469\u200d\U0001f467 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0915\u094d\u200d\u0937 Nguye\u0302\u0303n \u2764\ufe0f",
			"<alice> \U0001f468\u200d\U0001f469\u200d\U0001f467 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0915\u094d\u200d\u0937 Nguye\u0302\u0303n \u2764\ufe0f",
		},
		{"/me wa\u200bves\U000e0041", "* alice waves"},
		{"\u200b\u200c\u200d\u2060\ufeff\u3164\U000e0020", ""}, // nothing to show: nothing sent
		{"/msg bob se\u200bcret\u00ad", "[PM from alice] secret"},
	} {
		alice.Send(tt.send)
		if tt.want != "" {
			bob.Expect(tt.want)
		}
	}
	// The line of invisibles was dropped: the next line bob gets is the private message.
	alice.Expect("[PM to bob] secret")
}
