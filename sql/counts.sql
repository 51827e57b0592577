-- Pack counts with its default parameters, generated from sql/packs/counts.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/counts.sql
-- and creates what SELECT trigger_install('counts') creates.
BEGIN;
-- counts 1.0.0 (sqlite-triggers pack)
-- sqlite-utils' enable_counts() adds one per insert and takes one per
-- delete. An INSERT OR REPLACE deletes the row it replaces without firing
-- delete triggers while recursive_triggers is off, so there its count
-- grows by one each time. Here the replace trigger notes the row first, and
-- the insert trigger takes it off; the delete trigger clears the note when
-- it did fire. The replace trigger runs only when there is a row to note
-- or a note left over, and first clears every note: one is left over when
-- its insert never came (INSERT OR IGNORE, an upsert), and kept, it would
-- make the insert of a later row under that key (moved there by an update,
-- or given that rowid by SQLite) count nothing, and every ignored row would
-- leave one behind. Install counts the table.
CREATE TABLE IF NOT EXISTS main."_counts" (
   "table" TEXT PRIMARY KEY,
   count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS main."item_counts_replaced" (replaced_key PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS main."item_counts_replace" BEFORE INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item_counts_replaced")
    OR EXISTS (SELECT 1 FROM "item" WHERE "rowid" = new."rowid")
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE true;
    INSERT INTO "item_counts_replaced" (replaced_key)
      SELECT "rowid" FROM "item" WHERE "rowid" = new."rowid";
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_insert" AFTER INSERT ON "item"
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE replaced_key = new."rowid";
    INSERT INTO "_counts" ("table", count) VALUES ('item', 1 - changes())
      ON CONFLICT ("table") DO UPDATE SET count = count + excluded.count;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_counts_delete" AFTER DELETE ON "item"
  BEGIN
    DELETE FROM "item_counts_replaced" WHERE replaced_key = old."rowid";
    INSERT INTO "_counts" ("table", count) VALUES ('item', -1)
      ON CONFLICT ("table") DO UPDATE SET count = count - 1;
  END;
INSERT OR REPLACE INTO "_counts" ("table", count) VALUES ('item', (SELECT count(*) FROM "item"));
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'counts:item', '1.0.0', '{"counts_table":"_counts","delete_trigger":"item_counts_delete","insert_trigger":"item_counts_insert","key":"rowid","name":"item","replace_trigger":"item_counts_replace","replaced_table":"item_counts_replaced","table":"item"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'counts:item');
COMMIT;
