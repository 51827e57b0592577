-- pack: touch
-- version: 1.0.0
-- description: Keeps a table's updated_at column current: every update of a row sets it to the time of the update.
-- instance: table
-- param: table | ident | "item" | table whose updates are timed (one install per table)
-- param: column | ident | "updated_at" | column that holds the time of the last update
-- param: key | ident | "rowid" | column that identifies a row: rowid, or the primary key of a WITHOUT ROWID table
-- param: format | choice(iso, unix, unix_ms) | "iso" | how the time is written: ISO 8601 text in UTC with milliseconds, unix seconds, or unix milliseconds
-- param: ignore | idents(table) | [] | columns whose changes alone do not count as an update
-- param: counted | idents(table - ignore - column) | null | the columns whose changes count: listed at install, every column of the table but column and ignore
-- param: trigger_name | ident | "{table}_touch" | name of the trigger
-- requires: table | column key
-- object: trigger | trigger_name | table
--
-- An AFTER UPDATE trigger, guarded so that it never fires for its own
-- update or for one that sets the column itself: recursive_triggers may be
-- on or off. A row that already holds the time is left alone: SQLite's
-- 'now' is one time for a whole statement (and unix seconds repeat for a
-- second), and rewriting the same time would, with recursive_triggers on,
-- fire the trigger again without end. With columns to ignore, only an
-- update that changes another column counts.
--
-- The date functions are called without a time value, which is SQLite's
-- 'now' without the string to parse. For iso, formatting the time is most
-- of the trigger's own work, so the check that the row does not hold it
-- yet compares whole seconds first (unixepoch() of the stored text, a
-- cheap parse): only a row already stamped within the current second is
-- compared with the formatted time. A row that holds the formatted time
-- always reads back as the current second, so it is still left alone.
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER UPDATE ON {{table}}
  WHEN new.{{column}} IS old.{{column}} COLLATE BINARY{{#if ignore}}
    AND ({{#each counted sep=" OR "}}new.{{.}} IS NOT old.{{.}} COLLATE BINARY{{/each}}){{/if}}
  BEGIN
    UPDATE {{table}}
      SET {{column}} = {{#if format = iso}}strftime('%Y-%m-%dT%H:%M:%fZ'){{/if}}{{#if format = unix}}unixepoch(){{/if}}{{#if format = unix_ms}}CAST(round((julianday() - 2440587.5) * 86400000) AS INTEGER){{/if}}
      WHERE {{key}} = new.{{key}} AND {{#if format = iso}}(unixepoch({{column}}) IS NOT unixepoch() OR {{column}} IS NOT strftime('%Y-%m-%dT%H:%M:%fZ')){{/if}}{{#if format = unix}}{{column}} IS NOT unixepoch(){{/if}}{{#if format = unix_ms}}{{column}} IS NOT CAST(round((julianday() - 2440587.5) * 86400000) AS INTEGER){{/if}};
  END;
