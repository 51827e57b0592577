-- pack: history
-- version: 1.0.0
-- description: A history table per table: every insert, update (that changes something) and delete of a row, with its values, version, time and operation.
-- instance: table
-- param: table | ident | "item" | table whose changes are recorded (one install per table); a rowid table
-- param: exclude | idents(table) | [] | columns left out of the history (their changes alone are not recorded)
-- param: columns | idents(table - exclude, max 62) | null | the columns recorded (at most 62: _mask has a bit for each): every column of the table but exclude, listed at install
-- param: who | expr | "" | an expression recorded with each change, e.g. (SELECT user_id FROM app_session) for a table your application writes; empty: NULL
-- param: conflicts | conflicts(table) | null | the rows an INSERT OR REPLACE of a new row deletes: worked out at install from the table's rowid, PRIMARY KEY and UNIQUE constraints
-- param: conflict_columns | conflict_columns(table) | null | the columns whose change in an UPDATE can make a row conflict with another, which an UPDATE OR REPLACE then deletes: worked out at install with conflicts
-- param: history_table | ident | "_{table}_history" | name of the history table (sqlite-history's name and shape)
-- param: index_name | ident | "idx_{table}_history_rowid" | name of the index on the history's _rowid and _version, which finds a row's last version
-- param: insert_trigger | ident | "{table}_insert_history" | name of the insert trigger
-- param: update_trigger | ident | "{table}_update_history" | name of the update trigger
-- param: delete_trigger | ident | "{table}_delete_history" | name of the delete trigger
-- param: replace_trigger | ident | "{table}_replace_history" | name of the trigger that keeps the values of the rows an INSERT OR REPLACE is about to delete
-- param: update_replace_trigger | ident | "{table}_update_replace_history" | name of the trigger that keeps the values of the rows an UPDATE OR REPLACE is about to delete
-- param: update_replaced_trigger | ident | "{table}_update_replaced_history" | name of the trigger that records the rows an UPDATE OR REPLACE deleted
-- param: replaced_table | ident | "{table}_history_replaced" | name of the scratch table where the values are kept
-- requires: table |
-- object: table | history_table
-- object: index | index_name | history_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | table
-- object: trigger | insert_trigger | table
-- object: trigger | update_trigger | table
-- object: trigger | delete_trigger | table
-- object: trigger | update_replace_trigger | table
-- object: trigger | update_replaced_trigger | table
-- example: {"columns": ["id", "title"], "conflicts": "conflicting_row.rowid = new.rowid", "conflict_columns": ["id", "rowid", "_rowid_", "oid"]}
--
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
CREATE TABLE IF NOT EXISTS main.{{history_table}} (
    _rowid INTEGER,
{{#each columns sep=",
"}}    {{.}}{{/each}},
    _version INTEGER,
    _updated INTEGER,
    _mask INTEGER,
    _op TEXT,
    _who
);
CREATE INDEX IF NOT EXISTS main.{{index_name}} ON {{history_table}} (_rowid, _version);
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (replaced_rowid INTEGER PRIMARY KEY, {{columns}}, replaced_version);
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{table}} AS conflicting_row WHERE {{conflicts}})
    OR EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_rowid, {{columns}}, replaced_version)
      SELECT rowid, {{columns}},
        coalesce((SELECT max(_version) FROM {{history_table}} WHERE _rowid = conflicting_row.rowid), 0) + 1
      FROM {{table}} AS conflicting_row WHERE {{conflicts}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{table}}
  BEGIN
    INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
      SELECT replaced_rowid, {{columns}}, replaced_version,
        CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
        -1, 'delete', {{#if who}}{{who}}{{else}}NULL{{/if}}
      FROM {{replaced_table}}
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE rowid = replaced_rowid);
    INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
    VALUES (new.rowid, {{#each columns}}new.{{.}}{{/each}},
      coalesce((SELECT max(_version) FROM {{history_table}} WHERE _rowid = new.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      {{#each columns sep=" | "}}(1 << {{#}}){{/each}}, 'insert', {{#if who}}{{who}}{{else}}NULL{{/if}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_trigger}} AFTER UPDATE ON {{table}}
  WHEN {{#each columns sep=" OR "}}old.{{.}} IS NOT new.{{.}} COLLATE BINARY{{/each}}
  BEGIN
    UPDATE {{replaced_table}} SET {{#each columns}}{{.}} = new.{{.}}{{/each}},
      replaced_version = replaced_version + 1
      WHERE replaced_rowid = old.rowid AND ({{columns}}) IS ({{#each columns}}old.{{.}}{{/each}});
    INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
    VALUES (old.rowid, {{#each columns}}CASE WHEN old.{{.}} IS NOT new.{{.}} COLLATE BINARY THEN new.{{.}} END{{/each}},
      coalesce((SELECT max(_version) FROM {{history_table}} WHERE _rowid = old.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      {{#each columns sep=" | "}}(CASE WHEN old.{{.}} IS NOT new.{{.}} COLLATE BINARY THEN 1 << {{#}} ELSE 0 END){{/each}}, 'update', {{#if who}}{{who}}{{else}}NULL{{/if}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid = old.rowid;
    INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
    VALUES (old.rowid, {{#each columns}}old.{{.}}{{/each}},
      coalesce((SELECT max(_version) FROM {{history_table}} WHERE _rowid = old.rowid), 0) + 1,
      CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
      -1, 'delete', {{#if who}}{{who}}{{else}}NULL{{/if}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replace_trigger}} BEFORE UPDATE OF {{conflict_columns}} ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_rowid, {{columns}})
      SELECT rowid, {{columns}} FROM {{table}} AS conflicting_row
      WHERE {{conflicts}} AND conflicting_row.rowid IS NOT old.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replaced_trigger}} AFTER UPDATE OF {{conflict_columns}} ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
      SELECT replaced_rowid, {{columns}},
        coalesce((SELECT max(_version) FROM {{history_table}} WHERE _rowid = replaced_rowid), 0) + 1,
        CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
        -1, 'delete', {{#if who}}{{who}}{{else}}NULL{{/if}}
      FROM {{replaced_table}}
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE rowid = replaced_rowid);
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
  END;
INSERT INTO {{history_table}} (_rowid, {{columns}}, _version, _updated, _mask, _op, _who)
  SELECT rowid, {{columns}}, 1, CAST((julianday('now') - 2440587.5) * 86400 * 1000 AS INTEGER),
    {{#each columns sep=" | "}}(1 << {{#}}){{/each}}, 'insert', NULL
  FROM {{table}} AS recorded_row
  WHERE NOT EXISTS (SELECT 1 FROM {{history_table}} WHERE _rowid = recorded_row.rowid);
