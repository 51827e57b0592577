-- pack: fts_sync
-- version: 1.0.0
-- description: An external-content FTS5 index of some of a table's columns, kept in sync by triggers, INSERT OR REPLACE included.
-- instance: table
-- param: table | ident | "item" | table whose text is indexed (one install per table); a rowid table
-- param: columns | idents(table) | ["title"] | the columns indexed
-- param: tokenize | text | "" | FTS5's tokenize option, e.g. "porter"; empty: FTS5's default
-- param: fts_table | ident | "{table}_fts" | name of the FTS5 table (sqlite-utils' name)
-- param: insert_trigger | ident | "{table}_ai" | name of the insert trigger (sqlite-utils' name)
-- param: delete_trigger | ident | "{table}_ad" | name of the delete trigger (sqlite-utils' name)
-- param: update_trigger | ident | "{table}_au" | name of the update trigger (sqlite-utils' name)
-- param: replace_trigger | ident | "{table}_fts_replace" | name of the trigger that keeps the values of the row an INSERT OR REPLACE is about to delete
-- param: replaced_table | ident | "{table}_fts_replaced" | name of the scratch table where it keeps them
-- requires: table |
-- object: virtual table | fts_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | table
-- object: trigger | insert_trigger | table
-- object: trigger | delete_trigger | table
-- object: trigger | update_trigger | table
--
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
CREATE VIRTUAL TABLE IF NOT EXISTS main.{{fts_table}} USING fts5({{columns}}, {{#if tokenize}}tokenize={{tokenize}}, {{/if}}content={{table}});
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (replaced_rowid INTEGER PRIMARY KEY, {{columns}});
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
    OR EXISTS (SELECT 1 FROM {{table}} WHERE rowid = new.rowid)
  BEGIN
    DELETE FROM {{replaced_table}} WHERE true;
    INSERT INTO {{replaced_table}} (replaced_rowid, {{columns}})
      SELECT rowid, {{columns}} FROM {{table}} WHERE rowid = new.rowid;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{table}}
  BEGIN
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}})
      SELECT 'delete', replaced_rowid, {{columns}} FROM {{replaced_table}} WHERE replaced_rowid = new.rowid;
    DELETE FROM {{replaced_table}} WHERE replaced_rowid = new.rowid;
    INSERT INTO {{fts_table}} (rowid, {{columns}}) VALUES (new.rowid, {{#each columns}}new.{{.}}{{/each}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE replaced_rowid = old.rowid;
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}}) VALUES ('delete', old.rowid, {{#each columns}}old.{{.}}{{/each}});
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_trigger}} AFTER UPDATE ON {{table}}
  WHEN old.rowid IS NOT new.rowid{{#each columns sep=""}} OR old.{{.}} IS NOT new.{{.}}{{/each}}
  BEGIN
    INSERT INTO {{fts_table}} ({{fts_table}}, rowid, {{columns}}) VALUES ('delete', old.rowid, {{#each columns}}old.{{.}}{{/each}});
    INSERT INTO {{fts_table}} (rowid, {{columns}}) VALUES (new.rowid, {{#each columns}}new.{{.}}{{/each}});
  END;
INSERT INTO {{fts_table}} ({{fts_table}}) VALUES ('rebuild');
