package ircproto_test

import (
	"fmt"
	"testing"

	"hubbub/internal/chat"
	"hubbub/internal/chattest"
)

// BenchmarkListOneChannel is LIST #channel, asked and answered over the wire, on a server of
// 10,000 channels: what one channel costs, not what every channel does (each LIST holds the
// chat's lock for as long as it looks).
func BenchmarkListOneChannel(b *testing.B) {
	const rooms, perMember = 10000, 1000
	cfg := chat.DefaultConfig()
	cfg.MaxRoomsPerUser = perMember + 1
	srv := start(b, cfg)
	for m := range rooms / perMember {
		s, _ := chattest.Enter(b, srv.Hub, fmt.Sprintf("127.0.1.%d", m+1), fmt.Sprintf("owner%d", m))
		for r := range perMember {
			if err := s.Join(fmt.Sprintf("#r%05d", m*perMember+r)); err != nil {
				b.Fatal(err)
			}
		}
	}
	u := registerIRC(b, srv.IRC, "asker")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ch := fmt.Sprintf("#r%05d", i%rooms)
		u.Send("LIST " + ch)
		u.until(" 322 asker " + ch + " 1 ")
		u.until(" 323 asker :End of /LIST")
	}
}
