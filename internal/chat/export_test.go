package chat

// SetTestHookWelcomed has h call f, holding its lock, once a new member has been welcomed.
func SetTestHookWelcomed(h *Hub, f func(name string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.testHookWelcomed = f
}
