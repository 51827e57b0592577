-- pack: fts_sync
-- version: 1.0.0
-- description: An external-content FTS5 index of some of a table's columns, kept in sync by triggers, INSERT OR REPLACE included.
-- instance: table
-- param: table | ident | "item" | table whose text is indexed (one install per table); a rowid table
-- param: columns | idents(table) | ["title"] | the columns indexed
-- param: tokenize | text | "" | FTS5's tokenize option, e.g. "porter"; empty: FTS5's default
-- param: conflicts | conflicts(table) | null | the rows an INSERT OR REPLACE of a new row deletes: worked out at install from the table's rowid, PRIMARY KEY and UNIQUE constraints
-- param: conflict_columns | conflict_columns(table) | null | the columns whose change in an UPDATE can make a row conflict with another, which an UPDATE OR REPLACE then deletes: worked out at install with conflicts
-- param: fts_table | ident | "{table}_fts" | name of the FTS5 table (sqlite-utils' name)
-- param: insert_trigger | ident | "{table}_ai" | name of the insert trigger (sqlite-utils' name)
-- param: delete_trigger | ident | "{table}_ad" | name of the delete trigger (sqlite-utils' name)
-- param: update_trigger | ident | "{table}_au" | name of the update trigger (sqlite-utils' name)
-- param: replace_trigger | ident | "{table}_fts_replace" | name of the trigger that keeps the values of the rows an INSERT OR REPLACE is about to delete
-- param: replaced_table | ident | "{table}_fts_replaced" | name of the scratch table where it keeps them
-- param: update_replace_trigger | ident | "{table}_fts_update_replace" | name of the trigger that keeps the values of the rows an UPDATE OR REPLACE is about to delete
-- param: update_replaced_trigger | ident | "{table}_fts_update_replaced" | name of the trigger that takes the rows an UPDATE OR REPLACE deleted out of the index
-- requires: table |
-- object: virtual table | fts_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | table
-- object: trigger | insert_trigger | table
-- object: trigger | delete_trigger | table
-- object: trigger | update_trigger | table
-- object: trigger | update_replace_trigger | table
-- object: trigger | update_replaced_trigger | table
-- example: {"conflicts": "conflicting_row.rowid = new.rowid", "conflict_columns": ["id", "rowid", "_rowid_", "oid"]}
--
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
CREATE VIRTUAL TABLE IF NOT EXISTS main.{{fts_table}} USING fts5({{columns}}, {{#if tokenize}}tokenize={{tokenize}}, {{/if}}content={{table}});
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (replaced_rowid INTEGER PRIMARY KEY, {{columns}});
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{table}} AS conflicting_row WHERE {{conflicts}})
    OR EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_rowid, {{columns}})
      SELECT rowid, {{columns}} FROM {{table}} AS conflicting_row WHERE {{conflicts}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{table}}
  BEGIN
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}})
      SELECT 'delete', replaced_rowid, {{columns}} FROM {{replaced_table}}
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE rowid = replaced_rowid);
    INSERT INTO {{fts_table}} (rowid, {{columns}}) VALUES (new.rowid, {{#each columns}}new.{{.}}{{/each}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid = old.rowid;
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}}) VALUES ('delete', old.rowid, {{#each columns}}old.{{.}}{{/each}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_trigger}} AFTER UPDATE ON {{table}}
  WHEN old.rowid IS new.rowid AND ({{#each columns sep=" OR "}}old.{{.}} IS NOT new.{{.}} COLLATE BINARY{{/each}})
  BEGIN
    UPDATE {{replaced_table}} SET {{#each columns}}{{.}} = new.{{.}}{{/each}}
      WHERE replaced_rowid = old.rowid AND ({{columns}}) IS ({{#each columns}}old.{{.}}{{/each}});
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}}) VALUES ('delete', old.rowid, {{#each columns}}old.{{.}}{{/each}});
    INSERT INTO {{fts_table}} (rowid, {{columns}}) VALUES (new.rowid, {{#each columns}}new.{{.}}{{/each}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replace_trigger}} BEFORE UPDATE OF {{conflict_columns}} ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
    INSERT INTO {{replaced_table}} (replaced_rowid, {{columns}})
      SELECT rowid, {{columns}} FROM {{table}} AS conflicting_row
      WHERE {{conflicts}} AND conflicting_row.rowid IS NOT old.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replaced_trigger}} AFTER UPDATE OF {{conflict_columns}} ON {{table}}
  WHEN old.rowid IS NOT new.rowid OR EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}})
      SELECT 'delete', replaced_rowid, {{columns}} FROM {{replaced_table}}
      WHERE replaced_rowid = new.rowid
        OR NOT EXISTS (SELECT 1 FROM {{table}} WHERE rowid = replaced_rowid);
    DELETE FROM {{replaced_table}} WHERE replaced_rowid IS NOT NULL;
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}})
      SELECT 'delete', old.rowid, {{#each columns}}old.{{.}}{{/each}} WHERE old.rowid IS NOT new.rowid;
    INSERT INTO {{fts_table}} (rowid, {{columns}})
      SELECT new.rowid, {{#each columns}}new.{{.}}{{/each}} WHERE old.rowid IS NOT new.rowid;
  END;
INSERT INTO {{fts_table}} ({{fts_table}}) VALUES ('rebuild');
