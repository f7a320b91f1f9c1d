package sqlite

// BreakCheckpoints makes every later checkpoint fail, through the error path a full or
// failing disk takes: the checkpointer's connection answers with an error.
func (s *Store) BreakCheckpoints() { s.cdb.Close() }
