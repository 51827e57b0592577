-- pack: counts
-- version: 1.0.0
-- description: Keeps each table's row count in the _counts table, in the shape sqlite-utils and Datasette read.
-- instance: table
-- param: table | ident | "item" | table whose rows are counted (one install per table)
-- param: name | text | "{table}" | the name the count is kept under in the counts table: the table's own, which sqlite-utils looks up
-- param: key | ident | "rowid" | column that identifies a row: rowid, or the primary key of a WITHOUT ROWID table
-- param: counts_table | ident | "_counts" | table of the counts, created with sqlite-utils' shape when missing ("table" TEXT PRIMARY KEY, count INTEGER DEFAULT 0)
-- param: insert_trigger | ident | "{table}_counts_insert" | name of the insert trigger (sqlite-utils' name, by which it knows the table is counted)
-- param: delete_trigger | ident | "{table}_counts_delete" | name of the delete trigger (sqlite-utils' name)
-- param: replace_trigger | ident | "{table}_counts_replace" | name of the trigger that notes the row an INSERT OR REPLACE is about to delete
-- param: replaced_table | ident | "{table}_counts_replaced" | name of the scratch table where it notes it
-- requires: table | key
-- object: table | counts_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | table
-- object: trigger | insert_trigger | table
-- object: trigger | delete_trigger | table
--
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
CREATE TABLE IF NOT EXISTS main.{{counts_table}} (
   "table" TEXT PRIMARY KEY,
   count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (replaced_key PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
    OR EXISTS (SELECT 1 FROM {{table}} WHERE {{key}} = new.{{key}})
  BEGIN
    DELETE FROM {{replaced_table}} WHERE true;
    INSERT INTO {{replaced_table}} (replaced_key)
      SELECT {{key}} FROM {{table}} WHERE {{key}} = new.{{key}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_key = new.{{key}};
    INSERT INTO {{counts_table}} ("table", count) VALUES ({{name}}, 1 - changes())
      ON CONFLICT ("table") DO UPDATE SET count = count + excluded.count;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_key = old.{{key}};
    INSERT INTO {{counts_table}} ("table", count) VALUES ({{name}}, -1)
      ON CONFLICT ("table") DO UPDATE SET count = count - 1;
  END;
INSERT OR REPLACE INTO {{counts_table}} ("table", count) VALUES ({{name}}, (SELECT count(*) FROM {{table}}));
-- on uninstall:
DELETE FROM {{counts_table}} WHERE "table" = {{name}};
