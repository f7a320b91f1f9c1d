package chat

// SetTestHookWelcomed has h call f, holding its lock, once a new member has been welcomed.
func SetTestHookWelcomed(h *Hub, f func(name string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.testHookWelcomed = f
}

// RoomClaimWaiters says how many joiners wait for the claim of the room called name in
// flight, -1 when none is.
func RoomClaimWaiters(h *Hub, name string) int {
	n, err := ParseRoom(name)
	if err != nil {
		return -1
	}
	if v, ok := h.claiming.Load(n.looks[0]); ok {
		return int(v.(*roomClaim).waiting.Load())
	}
	return -1
}
