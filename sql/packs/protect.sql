-- pack: protect
-- version: 1.0.0
-- description: Refuses inserts, updates or deletes on a table (or changes to some of its columns), with a message.
-- instance: trigger_name
-- param: table | ident | "item" | table to protect
-- param: operation | choice(insert, update, delete) | "delete" | the statement refused (one install per table and operation)
-- param: columns | idents(table) | [] | for update: refuse only changes to these columns; empty: every update
-- param: condition | expr | "" | refuse only the rows for which this holds, over new.* (insert, update) and old.* (update, delete); empty: every row
-- param: message | text | "{operation} on {table} is not allowed" | the error message
-- param: trigger_name | ident | "{table}_protect_{operation}" | name of the trigger
-- requires: table |
-- object: trigger | trigger_name | table
--
-- RAISE(ABORT) undoes the statement and leaves the transaction as it was.
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} BEFORE {{operation}} ON {{table}}{{#if columns}}
  WHEN ({{#each columns sep=" OR "}}new.{{.}} IS NOT old.{{.}} COLLATE BINARY{{/each}}){{#if condition}} AND {{condition}}{{/if}}{{else}}{{#if condition}}
  WHEN {{condition}}{{/if}}{{/if}}
  BEGIN
    SELECT RAISE(ABORT, {{message}});
  END;
