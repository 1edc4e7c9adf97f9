-- The write lock: every write transaction takes this table in EXCLUSIVE
-- mode before its first read (LOCK TABLE, sent with the BEGIN), and
-- PostgreSQL releases it at the COMMIT or ROLLBACK. Nothing is ever
-- stored in it. store/engine_postgres_conn.go says why the writers of
-- the replicas over one ledger take turns.
CREATE TABLE write_lock ();
