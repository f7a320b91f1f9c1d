package ircproto

import "slices"

// roomSet is the rooms (display names) a client was told it joined: a handful at most (the
// chat's --max-rooms-per-user), so a slice, where a map would cost every idle client about
// 250 bytes for its one room, the lobby.
type roomSet []string

func (s roomSet) has(room string) bool { return slices.Contains(s, room) }

// add adds room; it reports false when room was in s already.
func (s *roomSet) add(room string) bool {
	if s.has(room) {
		return false
	}
	*s = append(*s, room)
	return true
}

// remove removes room, if s holds it.
func (s *roomSet) remove(room string) {
	*s = slices.DeleteFunc(*s, func(r string) bool { return r == room })
}
