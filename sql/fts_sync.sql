-- Pack fts_sync with its default parameters, generated from sql/packs/fts_sync.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/fts_sync.sql
-- and creates what SELECT trigger_install('fts_sync') creates.
-- What install works out from your table's schema is written here as the
-- template's example gives it: {"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid"}
-- For your table, take trigger_pack_sql('fts_sync', params_json) instead.
BEGIN;
-- fts_sync 1.0.0 (sqlite-triggers pack)
-- The index holds no copy of the text: FTS5 reads it from the table, and a
-- row leaves the index by a 'delete' given the values it was indexed with.
-- sqlite-utils' enable_fts(create_triggers=True) misses the rows an INSERT OR
-- REPLACE deletes (those the new row conflicts with on the rowid, the
-- PRIMARY KEY or a UNIQUE constraint) while recursive_triggers is off, so
-- their old text stays in the index. Here the replace trigger, which runs
-- only when the new row conflicts with one or values are kept from an
-- earlier insert, clears them and keeps those rows' values, and the insert
-- trigger takes the ones that are gone out of the index before it indexes
-- the new row (every other trigger that reads the kept values runs after
-- one that cleared them first); the delete trigger clears a row's values
-- when it did fire. An UPDATE OR REPLACE deletes the rows the new values
-- conflict with in the same way: the update replace trigger keeps their
-- values, and the update replaced trigger takes the ones that are gone out
-- of the index. Both fire only for an UPDATE that sets a column a conflict
-- depends on, the rowid's among them, so the update replaced trigger also
-- reindexes a row whose rowid changed (after taking out the row whose rowid
-- it took), and the update trigger leaves such a row alone: no two triggers
-- write the same rowid, whatever order SQLite fires them in. Install
-- indexes the table ('rebuild').
CREATE VIRTUAL TABLE IF NOT EXISTS main."item_fts" USING fts5("title", content="item");
CREATE TABLE IF NOT EXISTS main."item_fts_replaced" (replaced_rowid INTEGER PRIMARY KEY, "title");
CREATE TRIGGER IF NOT EXISTS main."item_fts_replace" BEFORE INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid))
    OR EXISTS (SELECT 1 FROM "item_fts_replaced")
  BEGIN
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid IS NOT NULL;
    INSERT INTO "item_fts_replaced" (replaced_rowid, "title")
      SELECT rowid, "title" FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_ai" AFTER INSERT ON "item"
  BEGIN
    INSERT INTO "item_fts" ("item_fts", rowid, "title")
      SELECT 'delete', replaced_rowid, "title" FROM "item_fts_replaced"
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM "item" WHERE rowid = replaced_rowid);
    INSERT INTO "item_fts" (rowid, "title") VALUES (new.rowid, new."title");
  END;
CREATE TRIGGER IF NOT EXISTS main."item_ad" AFTER DELETE ON "item"
  BEGIN
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid = old.rowid;
    INSERT INTO "item_fts" ("item_fts", rowid, "title") VALUES ('delete', old.rowid, old."title");
  END;
CREATE TRIGGER IF NOT EXISTS main."item_au" AFTER UPDATE ON "item"
  WHEN old.rowid IS new.rowid AND (old."title" IS NOT new."title" COLLATE BINARY)
  BEGIN
    UPDATE "item_fts_replaced" SET "title" = new."title"
      WHERE replaced_rowid = old.rowid AND ("title") IS (old."title");
    INSERT INTO "item_fts" ("item_fts", rowid, "title") VALUES ('delete', old.rowid, old."title");
    INSERT INTO "item_fts" (rowid, "title") VALUES (new.rowid, new."title");
  END;
CREATE TRIGGER IF NOT EXISTS main."item_fts_update_replace" BEFORE UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  BEGIN
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid IS NOT NULL;
    INSERT INTO "item_fts_replaced" (replaced_rowid, "title")
      SELECT rowid, "title" FROM "item" AS conflicting_row
      WHERE (conflicting_row.rowid = new.rowid) AND conflicting_row.rowid IS NOT old.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_fts_update_replaced" AFTER UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  WHEN old.rowid IS NOT new.rowid OR EXISTS (SELECT 1 FROM "item_fts_replaced")
  BEGIN
    INSERT INTO "item_fts" ("item_fts", rowid, "title")
      SELECT 'delete', replaced_rowid, "title" FROM "item_fts_replaced"
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM "item" WHERE rowid = replaced_rowid);
    DELETE FROM "item_fts_replaced" WHERE replaced_rowid IS NOT NULL;
    INSERT INTO "item_fts" ("item_fts", rowid, "title")
      SELECT 'delete', old.rowid, old."title" WHERE old.rowid IS NOT new.rowid;
    INSERT INTO "item_fts" (rowid, "title")
      SELECT new.rowid, new."title" WHERE old.rowid IS NOT new.rowid;
  END;
INSERT INTO "item_fts" ("item_fts") VALUES ('rebuild');
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'fts_sync:item', '1.0.0', '{"columns":["title"],"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid","delete_trigger":"item_ad","fts_table":"item_fts","insert_trigger":"item_ai","replace_trigger":"item_fts_replace","replaced_table":"item_fts_replaced","table":"item","tokenize":"","update_replace_trigger":"item_fts_update_replace","update_replaced_trigger":"item_fts_update_replaced","update_trigger":"item_au"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'fts_sync:item');
COMMIT;
