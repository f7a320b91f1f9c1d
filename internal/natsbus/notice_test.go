package natsbus_test

import (
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
	"hubbub/internal/natstest"
)

// A line or a private message said as a notice (IRC's NOTICE) reaches a member of another node
// still marked as one, so that its IRC door says NOTICE there too (the mark was lost on the
// bus: a NOTICE became a PRIVMSG on every other node); a line said plainly is no notice.
func TestNoticeAcrossNodes(t *testing.T) {
	nodes := startNodes(t, natstest.StartCluster(t, 3), 2, 0)
	alice, _ := chattest.Enter(t, nodes[0].hub, "127.0.0.2", "alice")
	bob, got := chattest.Enter(t, nodes[1].hub, "127.0.0.3", "bob")
	// bob first: he is told of alice's join, which says the room's lines from her reach him.
	for _, s := range []*chat.Session{bob, alice} {
		if err := s.Join("#go"); err != nil {
			t.Fatal(err)
		}
	}
	got.Next(t, func(m *chat.Message) bool { return m.Kind == chat.KindJoin && m.From == "alice" && m.Room == "#go" })

	// One at a time: the room's lines and private messages come by different ways, in no
	// order between them.
	for _, tt := range []struct {
		say    func() error
		kind   chat.Kind
		text   string
		notice bool
	}{
		{func() error { return alice.SayNotice("#go", "a notice") }, chat.KindChat, "a notice", true},
		{func() error { return alice.Say("#go", "a line") }, chat.KindChat, "a line", false},
		{func() error { return alice.PrivateNotice("bob", "a private notice") }, chat.KindPrivate, "a private notice", true},
		{func() error { return alice.Private("bob", "a private line") }, chat.KindPrivate, "a private line", false},
	} {
		if err := tt.say(); err != nil {
			t.Fatal(err)
		}
		m := got.Next(t, func(m *chat.Message) bool { return m.Kind == tt.kind && m.From == "alice" })
		if m.Text != tt.text || m.Notice != tt.notice {
			t.Errorf("bob got %q (notice %v), want %q (notice %v)", m.Text, m.Notice, tt.text, tt.notice)
		}
	}
}
