-- pack: soft_delete
-- version: 1.0.0
-- description: A DELETE of a row sets its deleted_at column instead, and the row stays.
-- instance: table
-- param: table | ident | "item" | table whose deletes become updates (one install per table)
-- param: column | ident | "deleted_at" | column that records when the row was deleted (NULL while it is not)
-- param: key | ident | "rowid" | column that identifies a row: rowid, or the primary key of a WITHOUT ROWID table
-- param: format | choice(iso, unix, unix_ms) | "iso" | how the time is written: ISO 8601 text in UTC with milliseconds, unix seconds, or unix milliseconds
-- param: hard_delete_when | expr | "" | a condition on old.* under which a DELETE really deletes (e.g. old.deleted_at IS NOT NULL); empty: never
-- param: trigger_name | ident | "{table}_soft_delete" | name of the trigger
-- requires: table | column key
-- object: trigger | trigger_name | table
--
-- The first delete of a row records its time; deleting it again keeps that
-- time. RAISE(IGNORE) skips the row's delete and nothing else: the rest of
-- the statement goes on. A hard_delete_when that is NULL does not hold, so
-- the row is kept.
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} BEFORE DELETE ON {{table}}{{#if hard_delete_when}}
  WHEN {{hard_delete_when}} IS NOT TRUE{{/if}}
  BEGIN
    UPDATE {{table}}
      SET {{column}} = {{#if format = iso}}strftime('%Y-%m-%dT%H:%M:%fZ', 'now'){{/if}}{{#if format = unix}}CAST(strftime('%s', 'now') AS INTEGER){{/if}}{{#if format = unix_ms}}CAST(round((julianday('now') - 2440587.5) * 86400000) AS INTEGER){{/if}}
      WHERE {{key}} = old.{{key}} AND {{column}} IS NULL;
    SELECT RAISE(IGNORE);
  END;
