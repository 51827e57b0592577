-- pack: counts
-- version: 1.0.0
-- description: Keeps each table's row count in the _counts table, in the shape sqlite-utils and Datasette read.
-- instance: table
-- param: table | ident | "item" | table whose rows are counted (one install per table)
-- param: name | text | "{table}" | the name the count is kept under in the counts table: the table's own, which sqlite-utils looks up
-- param: key | ident | "rowid" | column that identifies a row: rowid, or the primary key of a WITHOUT ROWID table
-- param: conflicts | conflicts(table) | null | the rows an INSERT OR REPLACE of a new row deletes: worked out at install from the table's rowid, PRIMARY KEY and UNIQUE constraints
-- param: conflict_columns | conflict_columns(table) | null | the columns whose change in an UPDATE can make a row conflict with another, which an UPDATE OR REPLACE then deletes: worked out at install with conflicts
-- param: counts_table | ident | "_counts" | table of the counts, created with sqlite-utils' shape when missing ("table" TEXT PRIMARY KEY, count INTEGER DEFAULT 0)
-- param: insert_trigger | ident | "{table}_counts_insert" | name of the insert trigger (sqlite-utils' name, by which it knows the table is counted)
-- param: delete_trigger | ident | "{table}_counts_delete" | name of the delete trigger (sqlite-utils' name)
-- param: replace_trigger | ident | "{table}_counts_replace" | name of the trigger that notes the rows an INSERT OR REPLACE is about to delete
-- param: replaced_table | ident | "{table}_counts_replaced" | name of the scratch table where it notes it
-- param: insert_replaced_trigger | ident | "{table}_counts_insert_replaced" | name of the trigger that takes the rows an INSERT OR REPLACE deleted off the count
-- param: update_replace_trigger | ident | "{table}_counts_update_replace" | name of the trigger that notes the rows an UPDATE OR REPLACE is about to delete
-- param: update_replaced_trigger | ident | "{table}_counts_update_replaced" | name of the trigger that takes the ones an UPDATE OR REPLACE deleted off the count
-- requires: table | key
-- object: table | counts_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | table
-- object: trigger | insert_trigger | table
-- object: trigger | delete_trigger | table
-- object: trigger | insert_replaced_trigger | table
-- object: trigger | update_replace_trigger | table
-- object: trigger | update_replaced_trigger | table
-- example: {"conflicts": "conflicting_row.rowid = new.rowid", "conflict_columns": ["id", "rowid", "_rowid_", "oid"]}
--
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
CREATE TABLE IF NOT EXISTS main.{{counts_table}} (
   "table" TEXT PRIMARY KEY,
   count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (replaced_key PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{table}} AS conflicting_row WHERE {{conflicts}})
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_key IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_key)
      SELECT {{key}} FROM {{table}} AS conflicting_row WHERE {{conflicts}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{table}}
  BEGIN
    INSERT INTO {{counts_table}} ("table", count) VALUES ({{name}}, 1)
      ON CONFLICT ("table") DO UPDATE SET count = count + 1;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_replaced_trigger}} AFTER INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    UPDATE {{counts_table}} SET count = count - (
        SELECT count(*) FROM {{replaced_table}}
        WHERE replaced_key = new.{{key}}
          OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE {{key}} = replaced_key))
      WHERE "table" = {{name}};
    DELETE FROM {{replaced_table}} WHERE replaced_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_key = old.{{key}};
    INSERT INTO {{counts_table}} ("table", count) VALUES ({{name}}, -1)
      ON CONFLICT ("table") DO UPDATE SET count = count - 1;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replace_trigger}} BEFORE UPDATE OF {{conflict_columns}} ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_key IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_key)
      SELECT {{key}} FROM {{table}} AS conflicting_row
      WHERE {{conflicts}} AND conflicting_row.{{key}} IS NOT old.{{key}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replaced_trigger}} AFTER UPDATE OF {{conflict_columns}} ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    UPDATE {{counts_table}} SET count = count - (
        SELECT count(*) FROM {{replaced_table}}
        WHERE replaced_key = new.{{key}}
          OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE {{key}} = replaced_key))
      WHERE "table" = {{name}};
    DELETE FROM {{replaced_table}} WHERE replaced_key IS NOT NULL;
  END;
INSERT OR REPLACE INTO {{counts_table}} ("table", count) VALUES ({{name}}, (SELECT count(*) FROM {{table}}));
-- on uninstall:
DELETE FROM {{counts_table}} WHERE "table" = {{name}};
