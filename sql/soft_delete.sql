-- Pack soft_delete with its default parameters, generated from sql/packs/soft_delete.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/soft_delete.sql
-- and creates what SELECT trigger_install('soft_delete') creates.
BEGIN;
-- soft_delete 1.0.0 (sqlite-triggers pack)
-- The first delete of a row records its time; deleting it again keeps that
-- time. RAISE(IGNORE) skips the row's delete and nothing else: the rest of
-- the statement goes on. A hard_delete_when that is NULL does not hold, so
-- the row is kept.
CREATE TRIGGER IF NOT EXISTS main."item_soft_delete" BEFORE DELETE ON "item"
  BEGIN
    UPDATE "item"
      SET "deleted_at" = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
      WHERE "rowid" = old."rowid" AND "deleted_at" IS NULL;
    SELECT RAISE(IGNORE);
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'soft_delete:item', '1.0.0', '{"column":"deleted_at","format":"iso","hard_delete_when":"","key":"rowid","table":"item","trigger_name":"item_soft_delete"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'soft_delete:item');
COMMIT;
