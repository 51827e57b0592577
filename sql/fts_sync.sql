-- Pack fts_sync with its default parameters, generated from sql/packs/fts_sync.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/fts_sync.sql
-- and creates what SELECT trigger_install('fts_sync') creates.
BEGIN;
-- fts_sync 1.0.0 (sqlite-triggers pack)
-- The index holds no copy of the text: FTS5 reads it from the table, and a
-- row leaves the index by a 'delete' given the values it was indexed with.
-- sqlite-utils' enable_fts(create_triggers=True) misses the row an INSERT OR
-- REPLACE deletes while recursive_triggers is off, so its old text stays in
-- the index. Here the replace trigger keeps that row's values first, and the
-- insert trigger takes them out of the index; the delete trigger clears
-- them when it did fire. The replace trigger runs only when there is a row
-- to keep or values left over, and first clears every kept row: one is
-- left over when its insert never came (INSERT OR IGNORE, an upsert), and
-- kept, it would make the insert of a later row under that rowid (moved
-- there by an update, or given it by SQLite) take words out of the index
-- that are not there, which corrupts it, and every ignored row would leave
-- a copy of its text behind. Install indexes the table ('rebuild').
CREATE VIRTUAL TABLE IF NOT EXISTS main."item_fts" USING fts5("title", content="item");
CREATE TABLE IF NOT EXISTS main."item_fts_replaced" (replaced_rowid INTEGER PRIMARY KEY, "title");
CREATE TRIGGER IF NOT EXISTS main."item_fts_replace" BEFORE INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item_fts_replaced")
    OR EXISTS (SELECT 1 FROM "item" WHERE rowid = new.rowid)
  BEGIN
    DELETE FROM "item_fts_replaced" WHERE true;
    INSERT INTO "item_fts_replaced" (replaced_rowid, "title")
      SELECT rowid, "title" FROM "item" WHERE rowid = new.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_ai" AFTER INSERT ON "item"
  BEGIN
    INSERT INTO "item_fts" ("item_fts", rowid, "title")
      SELECT 'delete', replaced_rowid, "title" FROM "item_fts_replaced" WHERE replaced_rowid = new.rowid;
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid = new.rowid;
    INSERT INTO "item_fts" (rowid, "title") VALUES (new.rowid, new."title");
  END;
CREATE TRIGGER IF NOT EXISTS main."item_ad" AFTER DELETE ON "item"
  BEGIN
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid = old.rowid;
    INSERT INTO "item_fts" ("item_fts", rowid, "title") VALUES ('delete', old.rowid, old."title");
  END;
CREATE TRIGGER IF NOT EXISTS main."item_au" AFTER UPDATE ON "item"
  WHEN old.rowid IS NOT new.rowid OR old."title" IS NOT new."title"
  BEGIN
    INSERT INTO "item_fts" ("item_fts", rowid, "title") VALUES ('delete', old.rowid, old."title");
    INSERT INTO "item_fts" (rowid, "title") VALUES (new.rowid, new."title");
  END;
INSERT INTO "item_fts" ("item_fts") VALUES ('rebuild');
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'fts_sync:item', '1.0.0', '{"columns":["title"],"delete_trigger":"item_ad","fts_table":"item_fts","insert_trigger":"item_ai","replace_trigger":"item_fts_replace","replaced_table":"item_fts_replaced","table":"item","tokenize":"","update_trigger":"item_au"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'fts_sync:item');
COMMIT;
