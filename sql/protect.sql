-- Pack protect with its default parameters, generated from sql/packs/protect.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/protect.sql
-- and creates what SELECT trigger_install('protect') creates.
BEGIN;
-- protect 1.0.0 (sqlite-triggers pack)
-- RAISE(ABORT) undoes the statement and leaves the transaction as it was.
CREATE TRIGGER IF NOT EXISTS main."item_protect_delete" BEFORE delete ON "item"
  BEGIN
    SELECT RAISE(ABORT, 'delete on item is not allowed');
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'protect:item_protect_delete', '1.0.0', '{"columns":[],"condition":"","message":"delete on item is not allowed","operation":"delete","table":"item","trigger_name":"item_protect_delete"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'protect:item_protect_delete');
COMMIT;
