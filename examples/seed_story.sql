-- The seed story, end to end in the sqlite3 shell. Run from the repository
-- root after `cargo build --release`:
--
--   sqlite3 :memory: < examples/seed_story.sql
--
.bail on
.headers on
.mode column
.load ./target/release/libsqlite_triggers
.print '== sqlite-triggers, loaded into the sqlite3 shell'
SELECT trigger_version() AS version, sqlite_version() AS sqlite;

.print
.print '== The seed schema: obs/task and user/album'
.read examples/seed_schema.sql

.print
.print '== Packs this extension ships'
SELECT name, version, installed FROM trigger_packs;

.print
.print "== Preview: the SQL trigger_install('task_state') would run"
.mode list
.headers off
SELECT trigger_pack_sql('task_state');

.print
.print '== Install both packs'
SELECT trigger_install('task_state');
SELECT trigger_install('default_album');
.mode column
.headers on

.print
.print '== Every new user gets a default album'
INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');
-- carol already has her default album before her user row exists:
INSERT INTO album (user_id, album_name) VALUES (3, 'default album');
INSERT INTO user (id, name) VALUES (3, 'carol');
SELECT user.name, album.album_name, count(*) AS albums
  FROM user JOIN album ON album.user_id = user.id
  GROUP BY user.id, album.album_name ORDER BY user.id;

.print
.print '== Setting obs 1 to state 2 sets its tasks to state 2'
INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula');
INSERT INTO task (obs_id, name) VALUES (1, 'calibrate'), (1, 'expose'), (2, 'calibrate');
UPDATE obs SET state = 1 WHERE id = 1;   -- not 2: nothing happens
UPDATE obs SET name = 'Comet' WHERE id = 1;   -- not the state column: nothing happens
UPDATE obs SET state = 2 WHERE id = 1;
SELECT task.id, obs.name AS obs, task.name AS task, task.state
  FROM task JOIN obs ON obs.id = task.obs_id ORDER BY task.id;

.print
.print '== Installed packs'
SELECT name, installed_version, installed FROM trigger_packs;

.print
.print "== Uninstall both: only the user's tables remain"
.mode list
.headers off
SELECT trigger_uninstall('task_state');
SELECT trigger_uninstall('default_album');
.mode column
.headers on
SELECT type, name FROM sqlite_master ORDER BY type, name;
