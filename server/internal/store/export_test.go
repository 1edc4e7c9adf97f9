package store

import "context"

// SetRetryHook makes a PostgreSQL store call f before each retried
// transaction (tests count retries with it).
func SetRetryHook(d *DB, f func()) {
	if e, ok := d.eng.(*postgresEngine); ok {
		e.retries = f
	}
}

// SchemaVersions counts the migrations recorded in a PostgreSQL store.
func SchemaVersions(d *DB) (int, error) {
	e := d.eng.(*postgresEngine)
	var n int
	err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM tollgate_schema").Scan(&n)
	return n, err
}

// EmbeddedMigrations counts the migrations built into the binary.
func EmbeddedMigrations() int {
	ms, err := migrations()
	if err != nil {
		panic(err)
	}
	return len(ms)
}
