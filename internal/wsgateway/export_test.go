package wsgateway

// SetTestSendBuffer sets the kernel's send buffer of each connection to n bytes, so that a slow
// reader's backlog piles up in its queue rather than in the kernel.
func (s *Server) SetTestSendBuffer(n int) { s.testSendBuffer = n }
