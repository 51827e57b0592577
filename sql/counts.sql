-- Pack counts with its default parameters, generated from sql/packs/counts.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/counts.sql
-- and creates what SELECT trigger_install('counts') creates.
-- What install works out from your table's schema is written here as the
-- template's example gives it: {"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid"}
-- For your table, take trigger_pack_sql('counts', params_json) instead.
BEGIN;
-- counts 1.0.0 (sqlite-triggers pack)
-- sqlite-utils' enable_counts() adds one per insert and takes one per
-- delete. An INSERT OR REPLACE deletes the rows the new one conflicts with
-- (on the rowid, the PRIMARY KEY or a UNIQUE constraint) without firing
-- delete triggers while recursive_triggers is off, so there its count grows
-- by one each time. Here the replace trigger, which runs only when the new
-- row conflicts with one, notes those rows first, and the insert replaced
-- trigger takes off the ones that are gone; the delete trigger clears the
-- note of a row when it did fire. An UPDATE OR REPLACE (or an UPDATE under
-- a constraint declared ON CONFLICT REPLACE) deletes the rows the new
-- values conflict with in the same way: the update triggers, which fire
-- only for an UPDATE that sets a column a conflict depends on, note them
-- and take off the ones that are gone. Install counts the table.
CREATE TABLE IF NOT EXISTS main."_counts" (
   "table" TEXT PRIMARY KEY,
   count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS main."item_counts_replaced" (replaced_key PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS main."item_counts_replace" BEFORE INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid))
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE replaced_key IS NOT NULL;
    INSERT INTO "item_counts_replaced" (replaced_key)
      SELECT "rowid" FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_insert" AFTER INSERT ON "item"
  BEGIN
    INSERT INTO "_counts" ("table", count) VALUES ('item', 1)
      ON CONFLICT ("table") DO UPDATE SET count = count + 1;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_insert_replaced" AFTER INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item_counts_replaced")
  BEGIN
    UPDATE "_counts" SET count = count - (
        SELECT count(*) FROM "item_counts_replaced"
        WHERE replaced_key = new."rowid"
          OR NOT EXISTS (SELECT 1 FROM "item" WHERE "rowid" = replaced_key))
      WHERE "table" = 'item';
    DELETE FROM "item_counts_replaced" WHERE replaced_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_delete" AFTER DELETE ON "item"
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE replaced_key = old."rowid";
    INSERT INTO "_counts" ("table", count) VALUES ('item', -1)
      ON CONFLICT ("table") DO UPDATE SET count = count - 1;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_update_replace" BEFORE UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE replaced_key IS NOT NULL;
    INSERT INTO "item_counts_replaced" (replaced_key)
      SELECT "rowid" FROM "item" AS conflicting_row
      WHERE (conflicting_row.rowid = new.rowid) AND conflicting_row."rowid" IS NOT old."rowid";
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_update_replaced" AFTER UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  WHEN EXISTS (SELECT 1 FROM "item_counts_replaced")
  BEGIN
    UPDATE "_counts" SET count = count - (
        SELECT count(*) FROM "item_counts_replaced"
        WHERE replaced_key = new."rowid"
          OR NOT EXISTS (SELECT 1 FROM "item" WHERE "rowid" = replaced_key))
      WHERE "table" = 'item';
    DELETE FROM "item_counts_replaced" WHERE replaced_key IS NOT NULL;
  END;
INSERT OR REPLACE INTO "_counts" ("table", count) VALUES ('item', (SELECT count(*) FROM "item"));
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'counts:item', '1.0.0', '{"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid","counts_table":"_counts","delete_trigger":"item_counts_delete","insert_replaced_trigger":"item_counts_insert_replaced","insert_trigger":"item_counts_insert","key":"rowid","name":"item","replace_trigger":"item_counts_replace","replaced_table":"item_counts_replaced","table":"item","update_replace_trigger":"item_counts_update_replace","update_replaced_trigger":"item_counts_update_replaced"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'counts:item');
COMMIT;
