-- Pack fsm with its default parameters, generated from sql/packs/fsm.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/fsm.sql
-- and creates what SELECT trigger_install('fsm') creates.
BEGIN;
-- fsm 1.0.0 (sqlite-triggers pack)
-- An update that keeps the state, or changes other columns only, is
-- always allowed. RAISE takes a literal message in every SQLite version, so
-- each pair of states has its own.
CREATE TRIGGER IF NOT EXISTS main."item_state_fsm" BEFORE UPDATE OF "state" ON "item"
  WHEN new."state" IS NOT old."state" COLLATE BINARY
  BEGIN
    SELECT CASE old."state"
      WHEN 'draft' THEN CASE new."state"
        WHEN 'published' THEN NULL
        WHEN 'archived' THEN RAISE(ABORT, 'item.state may not move from ''draft'' to ''archived''; from ''draft'' it may move to ''published''')
        ELSE RAISE(ABORT, 'item.state may not move from ''draft'' to a value that is not one of its states (''draft'', ''published'', ''archived'')') END
      WHEN 'published' THEN CASE new."state"
        WHEN 'draft' THEN NULL
        WHEN 'archived' THEN NULL
        ELSE RAISE(ABORT, 'item.state may not move from ''published'' to a value that is not one of its states (''draft'', ''published'', ''archived'')') END
      WHEN 'archived' THEN CASE new."state"
        WHEN 'draft' THEN RAISE(ABORT, 'item.state may not move from ''archived'' to ''draft''; ''archived'' is a final state')
        WHEN 'published' THEN RAISE(ABORT, 'item.state may not move from ''archived'' to ''published''; ''archived'' is a final state')
        ELSE RAISE(ABORT, 'item.state may not move from ''archived'' to a value that is not one of its states (''draft'', ''published'', ''archived'')') END
      ELSE RAISE(ABORT, 'item.state may not move from a value that is not one of its states (''draft'', ''published'', ''archived'')') END;
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'fsm:item_state_fsm', '1.0.0', '{"column":"state","table":"item","transitions":[["draft","published"],["published","archived"],["published","draft"]],"trigger_name":"item_state_fsm"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'fsm:item_state_fsm');
COMMIT;
