-- The change feed in the sqlite3 shell, from the repository's root:
--   sqlite3 < examples/feed.sql
-- Only what committed appears: a rollback, a ROLLBACK TO and a statement that
-- fails halfway leave nothing in trigger_changes.
.load ./target/release/libsqlite_triggers
CREATE TABLE t(a INTEGER UNIQUE);
SELECT 'last seq', trigger_watch('t');
INSERT INTO t VALUES (1);
BEGIN; INSERT INTO t VALUES (2); ROLLBACK;
BEGIN;
INSERT INTO t VALUES (3);
SAVEPOINT s; UPDATE t SET a = a + 10; ROLLBACK TO s; RELEASE s;
-- Fails on its last row; the shell reports the error and goes on.
INSERT INTO t VALUES (4), (5), (1);
COMMIT;
SELECT 'change', seq, op, db, table_name, rowid, txn FROM trigger_changes WHERE seq > 0;
SELECT 'rows', group_concat(a) FROM t;
SELECT trigger_unwatch('t');
