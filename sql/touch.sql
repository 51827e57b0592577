-- Pack touch with its default parameters, generated from sql/packs/touch.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/touch.sql
-- and creates what SELECT trigger_install('touch') creates.
BEGIN;
-- touch 1.0.0 (sqlite-triggers pack)
-- An AFTER UPDATE trigger, guarded so that it never fires for its own
-- update or for one that sets the column itself: recursive_triggers may be
-- on or off. A row that already holds the time is left alone: SQLite's
-- 'now' is one time for a whole statement (and unix seconds repeat for a
-- second), and rewriting the same time would, with recursive_triggers on,
-- fire the trigger again without end. With columns to ignore, only an
-- update that changes another column counts.
--
-- The date functions are called without a time value, which is SQLite's
-- 'now' without the string to parse. For iso, formatting the time is most
-- of the trigger's own work, so the check that the row does not hold it
-- yet compares whole seconds first (unixepoch() of the stored text, a
-- cheap parse): only a row already stamped within the current second is
-- compared with the formatted time. A row that holds the formatted time
-- always reads back as the current second, so it is still left alone.
CREATE TRIGGER IF NOT EXISTS main."item_touch" AFTER UPDATE ON "item"
  WHEN new."updated_at" IS old."updated_at" COLLATE BINARY
  BEGIN
    UPDATE "item"
      SET "updated_at" = strftime('%Y-%m-%dT%H:%M:%fZ')
      WHERE "rowid" = new."rowid" AND (unixepoch("updated_at") IS NOT unixepoch() OR "updated_at" IS NOT strftime('%Y-%m-%dT%H:%M:%fZ'));
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'touch:item', '1.0.0', '{"column":"updated_at","counted":null,"format":"iso","ignore":[],"key":"rowid","table":"item","trigger_name":"item_touch"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'touch:item');
COMMIT;
