-- Listeners in the sqlite3 shell: SQLAlchemy's event.listen(User,
-- 'after_insert', fn), as a plain-SQL trigger. Run from the repository root
-- after `cargo build --release`:
--
--   sqlite3 :memory: < examples/listeners.sql
--
.bail on
.load ./target/release/libsqlite_triggers
.read examples/seed_schema.sql
CREATE TABLE audit (at INTEGER PRIMARY KEY, what TEXT);

.print '== Every new user gets a default album (what the default_album pack does)'
SELECT trigger_listen('user', 'after_insert',
  'INSERT INTO album (user_id, album_name)
     SELECT NEW.id, ''default album''
     WHERE NOT EXISTS (SELECT 1 FROM album WHERE user_id = NEW.id AND album_name = ''default album'')');

.print '== Renames are audited, only when the name really changes'
SELECT trigger_listen('user', 'after_update',
  'INSERT INTO audit (what) VALUES (OLD.name || '' is now '' || NEW.name)',
  '{"columns": ["name"], "when": "OLD.name IS NOT NEW.name", "name": "audit_user_rename"}');

INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');
UPDATE user SET name = 'Alice' WHERE id = 1;
UPDATE user SET name = 'bob' WHERE id = 2;

.print
.print '== album'
SELECT user_id, album_name FROM album ORDER BY user_id;
.print '== audit'
SELECT what FROM audit;

.print
.print '== trigger_listeners'
.mode line
SELECT name, table_name, event, columns, when_expr FROM trigger_listeners;
.mode list

.print
.print '== trigger_unlisten drops them again'
SELECT trigger_unlisten(name) FROM trigger_listeners;
SELECT count(*) AS triggers_left FROM sqlite_master WHERE type = 'trigger';
