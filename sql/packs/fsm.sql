-- pack: fsm
-- version: 1.0.0
-- description: A state column may only move along the listed transitions; any other move is refused with a message naming both states.
-- instance: trigger_name
-- param: table | ident | "item" | table whose state column is guarded
-- param: column | ident | "state" | the state column
-- param: transitions | transitions(table.column) | [["draft", "published"], ["published", "archived"], ["published", "draft"]] | the moves allowed, as [from, to] pairs; the states are the values they name
-- param: trigger_name | ident | "{table}_{column}_fsm" | name of the trigger, and the install's instance
-- requires: table | column
-- object: trigger | trigger_name | table
--
-- An update that keeps the state, or changes other columns only, is
-- always allowed. RAISE takes a literal message in every SQLite version, so
-- each pair of states has its own.
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} BEFORE UPDATE OF {{column}} ON {{table}}
  WHEN new.{{column}} IS NOT old.{{column}} COLLATE BINARY
  BEGIN
    SELECT {{transitions}};
  END;
