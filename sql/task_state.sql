-- Pack task_state with its default parameters, generated from sql/packs/task_state.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/task_state.sql
-- and creates what SELECT trigger_install('task_state') creates.
BEGIN;
-- task_state 1.0.0 (sqlite-triggers pack)
-- The seed trigger, parameterised. The index keeps one obs update from
-- scanning every task.
CREATE INDEX IF NOT EXISTS main."update_task_state_idx" ON "task"("obs_id");
CREATE TRIGGER IF NOT EXISTS main."update_task_state" UPDATE OF "state" ON "obs"
  BEGIN
    UPDATE "task" SET "state" = 2 WHERE ("obs_id" = old."id") and (new."state" = 2);
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'task_state', '1.0.0', '{"index_name":"update_task_state_idx","obs_key":"id","obs_state":"state","obs_table":"obs","set_state":2,"task_obs_fk":"obs_id","task_state":"state","task_table":"task","trigger_name":"update_task_state","when_state":2}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'task_state');
COMMIT;
