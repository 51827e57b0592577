-- pack: counter_cache
-- version: 1.0.0
-- description: Keeps a parent's column equal to the number of its children, of those a condition picks, or the sum of an expression over them.
-- instance: name
-- param: child_table | ident | "comment" | table whose rows are counted
-- param: child_key | ident | "rowid" | column that identifies a child row: rowid, or the primary key of a WITHOUT ROWID table
-- param: child_fk | ident | "post_id" | column of the child table that refers to the parent
-- param: parent_table | ident | "post" | table that holds the count
-- param: parent_key | ident | "id" | column of the parent table the foreign key refers to
-- param: parent_column | ident | "comment_count" | column of the parent table that holds the count
-- param: condition | expr | "" | count only the children for which this holds, an expression over the child's columns; empty: every child
-- param: total | expr | "" | sum this expression over the children (e.g. amount) instead of counting them; empty: count
-- param: conflicts | conflicts(child_table) | null | the child rows an INSERT OR REPLACE of a new one deletes: worked out at install from the child table's rowid, PRIMARY KEY and UNIQUE constraints
-- param: conflict_columns | conflict_columns(child_table) | null | the child columns whose change in an UPDATE can make a row conflict with another, which an UPDATE OR REPLACE then deletes: worked out at install with conflicts
-- param: name | ident | "{child_table}_{parent_column}" | the install's name, from which the triggers' and index's names follow
-- param: insert_trigger | ident | "{name}_insert" | name of the insert trigger
-- param: update_trigger | ident | "{name}_update" | name of the update trigger
-- param: delete_trigger | ident | "{name}_delete" | name of the delete trigger
-- param: index_name | ident | "{name}_idx" | name of the index on the child's foreign key, which every recount uses
-- param: replace_trigger | ident | "{name}_replace" | name of the trigger that notes the parents of the child rows an INSERT OR REPLACE is about to delete
-- param: replaced_table | ident | "{name}_replaced" | name of the scratch table where it notes it
-- param: update_replace_trigger | ident | "{name}_update_replace" | name of the trigger that notes the parents of the child rows an UPDATE OR REPLACE is about to delete
-- param: update_replaced_trigger | ident | "{name}_update_replaced" | name of the trigger that recounts them after the update
-- requires: child_table | child_fk child_key
-- requires: parent_table | parent_key parent_column
-- object: index | index_name | child_table
-- object: scratch table | replaced_table
-- object: trigger | replace_trigger | child_table
-- object: trigger | insert_trigger | child_table
-- object: trigger | update_trigger | child_table
-- object: trigger | delete_trigger | child_table
-- object: trigger | update_replace_trigger | child_table
-- object: trigger | update_replaced_trigger | child_table
-- example: {"conflicts": "conflicting_row.rowid = new.rowid", "conflict_columns": ["id", "rowid", "_rowid_", "oid"]}
--
-- Each change recounts the parents it touches from the children as they
-- are, through the index, so a change of foreign key, of the counted
-- condition or of the summed value, and an UPSERT leave the count right.
-- An INSERT OR REPLACE deletes the rows the new one conflicts with without
-- firing delete triggers while recursive_triggers is off: the replace
-- trigger, which runs only when the new row conflicts with one, notes their
-- parents first, and the insert trigger recounts them
-- too, and the replaced rows themselves, which are parents in a tree (a
-- note of a row that stays costs an extra recount, never a wrong count).
-- An UPDATE OR REPLACE deletes the rows the new values conflict with in
-- the same way: the update replace trigger, which fires only for an UPDATE
-- that sets a column a conflict depends on, notes them, and the replaced
-- trigger recounts their parents (an update of the count itself, in a
-- tree, sets no such column, so it never recounts them again).
-- A recount writes a parent only when its count changes, so in a tree
-- (parent and child the same table) the update of a parent's count that a
-- recount makes recounts the grandparent once and stops there, with
-- recursive_triggers on too. The update trigger also keeps the noted
-- parent of a row a REPLACE is about to delete up to date when a
-- foreign-key action or another trigger moves that row first (a note that
-- no longer holds the row's values is of a row already replaced, whose
-- rowid the updated row took, and stays as it is).
-- No trigger on the parent table reads the child table, so either table
-- can be rebuilt (create, copy, drop, rename) with the other's triggers in
-- place. Install recounts every parent.
CREATE INDEX IF NOT EXISTS main.{{index_name}} ON {{child_table}}({{child_fk}});
CREATE TABLE IF NOT EXISTS main.{{replaced_table}} (child_key PRIMARY KEY, parent);
CREATE TRIGGER IF NOT EXISTS main.{{replace_trigger}} BEFORE INSERT ON {{child_table}}
  WHEN EXISTS (SELECT 1 FROM {{child_table}} AS conflicting_row WHERE {{conflicts}})
  BEGIN
    DELETE FROM {{replaced_table}} WHERE child_key IS NOT NULL;
    INSERT INTO {{replaced_table}} (child_key, parent)
      SELECT {{child_key}}, {{child_fk}} FROM {{child_table}} AS conflicting_row WHERE {{conflicts}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{insert_trigger}} AFTER INSERT ON {{child_table}}
  BEGIN
    UPDATE {{parent_table}} SET {{parent_column}} = (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    ) WHERE ({{parent_key}} = new.{{child_fk}}
      OR {{parent_key}} IN (SELECT parent FROM {{replaced_table}})
      OR {{parent_key}} IN (SELECT child_key FROM {{replaced_table}}))
      AND {{parent_column}} IS NOT (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    );
    DELETE FROM {{replaced_table}} WHERE child_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_trigger}} AFTER UPDATE ON {{child_table}}
  BEGIN
    UPDATE {{replaced_table}} SET parent = new.{{child_fk}}
      WHERE child_key = old.{{child_key}} AND parent IS old.{{child_fk}};
    UPDATE {{parent_table}} SET {{parent_column}} = (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    ) WHERE ({{parent_key}} IN (old.{{child_fk}}, new.{{child_fk}}))
      AND {{parent_column}} IS NOT (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    );
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replace_trigger}} BEFORE UPDATE OF {{conflict_columns}} ON {{child_table}}
  BEGIN
    DELETE FROM {{replaced_table}} WHERE child_key IS NOT NULL;
    INSERT INTO {{replaced_table}} (child_key, parent)
      SELECT {{child_key}}, {{child_fk}} FROM {{child_table}} AS conflicting_row
      WHERE {{conflicts}} AND conflicting_row.{{child_key}} IS NOT old.{{child_key}};
  END;
CREATE TRIGGER IF NOT EXISTS main.{{update_replaced_trigger}} AFTER UPDATE OF {{conflict_columns}} ON {{child_table}}
  WHEN EXISTS (SELECT 1 FROM {{replaced_table}})
  BEGIN
    UPDATE {{parent_table}} SET {{parent_column}} = (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    ) WHERE ({{parent_key}} IN (SELECT parent FROM {{replaced_table}})
      OR {{parent_key}} IN (SELECT child_key FROM {{replaced_table}}))
      AND {{parent_column}} IS NOT (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
    );
    DELETE FROM {{replaced_table}} WHERE child_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main.{{delete_trigger}} AFTER DELETE ON {{child_table}}
  BEGIN
    UPDATE {{parent_table}} SET {{parent_column}} = (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = old.{{child_fk}}{{#if condition}} AND {{condition}}{{/if}}
    ) WHERE ({{parent_key}} = old.{{child_fk}})
      AND {{parent_column}} IS NOT (
      SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
      WHERE counted_row.{{child_fk}} = old.{{child_fk}}{{#if condition}} AND {{condition}}{{/if}}
    );
  END;
UPDATE {{parent_table}} SET {{parent_column}} = (
  SELECT {{#if total}}coalesce(sum({{total}}), 0){{else}}count(*){{/if}} FROM {{child_table}} AS counted_row
  WHERE counted_row.{{child_fk}} = {{parent_table}}.{{parent_key}}{{#if condition}} AND {{condition}}{{/if}}
);
