-- Pack history with its default parameters, generated from sql/packs/history.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/history.sql
-- and creates what SELECT trigger_install('history') creates.
-- What install works out from your table's schema is written here as the
-- template's example gives it: {"columns":["id","title"],"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid"}
-- For your table, take trigger_pack_sql('history', params_json) instead.
BEGIN;
-- history 1.0.0 (sqlite-triggers pack)
-- sqlite-history's shape: one row per change, _rowid the row's rowid, the
-- recorded columns (an insert's values; an update's new values of the
-- columns it changed, NULL for the others; a delete's old values), _version
-- from 1 per row, _updated in unix milliseconds, and _mask, a bit per column
-- in the order listed (bit 0 the first) that the change set, -1 for a
-- delete. Then _op ('insert', 'update', 'delete') and _who. Changes are
-- compared with IS NOT and COLLATE BINARY, so a change to or from NULL, or
-- of letter case in a NOCASE column, counts; an update that
-- changes no recorded column is not recorded. An INSERT OR REPLACE or
-- UPDATE OR REPLACE deletes the rows the new values conflict with (on the
-- rowid, the PRIMARY KEY or a UNIQUE constraint) without firing delete
-- triggers while recursive_triggers is off: the replace trigger (which
-- runs only when the new row conflicts with one, or values are kept from an
-- earlier insert, which it clears first) and the update replace trigger
-- keep those rows' values and next version, and the insert trigger, before
-- it records the insert, or the update replaced trigger records a delete
-- for each one that is gone; the delete trigger forgets a row's values
-- when it did fire. Install records each row that has no
-- history yet as version 1.
CREATE TABLE IF NOT EXISTS main."_item_history" (
    _rowid INTEGER,
    "id",
    "title",
    _version INTEGER,
    _updated INTEGER,
    _mask INTEGER,
    _op TEXT,
    _who
);
CREATE INDEX IF NOT EXISTS main."idx_item_history_rowid" ON "_item_history" (_rowid, _version);
CREATE TABLE IF NOT EXISTS main."item_history_replaced" (replaced_rowid INTEGER PRIMARY KEY, "id", "title", replaced_version);
CREATE TRIGGER IF NOT EXISTS main."item_replace_history" BEFORE INSERT ON "item"
  WHEN EXISTS (SELECT 1 FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid))
    OR EXISTS (SELECT 1 FROM "item_history_replaced")
  BEGIN
    DELETE FROM "item_history_replaced" WHERE replaced_rowid IS NOT NULL;
    INSERT INTO "item_history_replaced" (replaced_rowid, "id", "title", replaced_version)
      SELECT rowid, "id", "title",
        coalesce((SELECT max(_version) FROM "_item_history" WHERE _rowid = conflicting_row.rowid), 0) + 1
      FROM "item" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_insert_history" AFTER INSERT ON "item"
  BEGIN
    INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
      SELECT replaced_rowid, "id", "title", replaced_version,
        CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
        -1, 'delete', NULL
      FROM "item_history_replaced"
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM "item" WHERE rowid = replaced_rowid);
    INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
    VALUES (new.rowid, new."id", new."title",
      coalesce((SELECT max(_version) FROM "_item_history" WHERE _rowid = new.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      (1 << 0) | (1 << 1), 'insert', NULL);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_update_history" AFTER UPDATE ON "item"
  WHEN old."id" IS NOT new."id" COLLATE BINARY OR old."title" IS NOT new."title" COLLATE BINARY
  BEGIN
    UPDATE "item_history_replaced" SET "id" = new."id", "title" = new."title",
      replaced_version = replaced_version + 1
      WHERE replaced_rowid = old.rowid AND ("id", "title") IS (old."id", old."title");
    INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
    VALUES (old.rowid, CASE WHEN old."id" IS NOT new."id" COLLATE BINARY THEN new."id" END, CASE WHEN old."title" IS NOT new."title" COLLATE BINARY THEN new."title" END,
      coalesce((SELECT max(_version) FROM "_item_history" WHERE _rowid = old.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      (CASE WHEN old."id" IS NOT new."id" COLLATE BINARY THEN 1 << 0 ELSE 0 END) | (CASE WHEN old."title" IS NOT new."title" COLLATE BINARY THEN 1 << 1 ELSE 0 END), 'update', NULL);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_delete_history" AFTER DELETE ON "item"
  BEGIN
    DELETE FROM "item_history_replaced" WHERE replaced_rowid = old.rowid;
    INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
    VALUES (old.rowid, old."id", old."title",
      coalesce((SELECT max(_version) FROM "_item_history" WHERE _rowid = old.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      -1, 'delete', NULL);
  END;
CREATE TRIGGER IF NOT EXISTS main."item_update_replace_history" BEFORE UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  BEGIN
    DELETE FROM "item_history_replaced" WHERE replaced_rowid IS NOT NULL;
    INSERT INTO "item_history_replaced" (replaced_rowid, "id", "title")
      SELECT rowid, "id", "title" FROM "item" AS conflicting_row
      WHERE (conflicting_row.rowid = new.rowid) AND conflicting_row.rowid IS NOT old.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main."item_update_replaced_history" AFTER UPDATE OF "id", "rowid", "_rowid_", "oid" ON "item"
  WHEN EXISTS (SELECT 1 FROM "item_history_replaced")
  BEGIN
    INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
      SELECT replaced_rowid, "id", "title",
        coalesce((SELECT max(_version) FROM "_item_history" WHERE _rowid = replaced_rowid), 0) + 1,
        CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
        -1, 'delete', NULL
      FROM "item_history_replaced"
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM "item" WHERE rowid = replaced_rowid);
    DELETE FROM "item_history_replaced" WHERE replaced_rowid IS NOT NULL;
  END;
INSERT INTO "_item_history" (_rowid, "id", "title", _version, _updated, _mask, _op, _who)
  SELECT rowid, "id", "title", 1, CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
    (1 << 0) | (1 << 1), 'insert', NULL
  FROM "item" AS recorded_row
  WHERE NOT EXISTS (SELECT 1 FROM "_item_history" WHERE _rowid = recorded_row.rowid);
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'history:item', '1.0.0', '{"columns":["id","title"],"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid","delete_trigger":"item_delete_history","exclude":[],"history_table":"_item_history","index_name":"idx_item_history_rowid","insert_trigger":"item_insert_history","replace_trigger":"item_replace_history","replaced_table":"item_history_replaced","table":"item","update_replace_trigger":"item_update_replace_history","update_replaced_trigger":"item_update_replaced_history","update_trigger":"item_update_history","who":""}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'history:item');
COMMIT;
