package wsgateway

import "time"

// SetTestSendBuffer sets the kernel's send buffer of each connection to n bytes, so that a slow
// reader's backlog piles up in its queue rather than in the kernel.
func (s *Server) SetTestSendBuffer(n int) { s.testSendBuffer = n }

// SetTestHold makes every flusher hold each connection back for d after flushing it, however
// short the pass.
func (s *Server) SetTestHold(d time.Duration) {
	s.flushers.SetStormHold(func(time.Duration, int) time.Duration { return d })
}
