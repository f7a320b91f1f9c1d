package sqlite

import (
	"context"
	"database/sql"
)

// BreakCheckpoints makes every later checkpoint fail, through the error path a full or
// failing disk takes: the checkpointer's connection answers with an error.
func (s *Store) BreakCheckpoints() { s.cdb.Close() }

// MakeAtVersion makes a database at path as the hubbub of that schema version left it: the
// migrations up to version applied, and none after.
func MakeAtVersion(ctx context.Context, path string, version int) error {
	if err := registerTerms(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	all, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range all {
		if m.version <= version {
			if err := apply(ctx, db, m); err != nil {
				return err
			}
		}
	}
	return db.Close()
}
