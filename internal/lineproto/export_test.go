package lineproto

// SetTestHookLine makes the server call hook with every line before the chat sees it.
func (s *Server) SetTestHookLine(hook func(line []byte)) { s.testHookLine = hook }
