-- Pack counter_cache with its default parameters, generated from sql/packs/counter_cache.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/counter_cache.sql
-- and creates what SELECT trigger_install('counter_cache') creates.
-- What install works out from your table's schema is written here as the
-- template's example gives it: {"conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid"}
-- For your table, take trigger_pack_sql('counter_cache', params_json) instead.
BEGIN;
-- counter_cache 1.0.0 (sqlite-triggers pack)
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
CREATE INDEX IF NOT EXISTS main."comment_comment_count_idx" ON "comment"("post_id");
CREATE TABLE IF NOT EXISTS main."comment_comment_count_replaced" (child_key PRIMARY KEY, parent);
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_replace" BEFORE INSERT ON "comment"
  WHEN EXISTS (SELECT 1 FROM "comment" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid))
  BEGIN
    DELETE FROM "comment_comment_count_replaced" WHERE child_key IS NOT NULL;
    INSERT INTO "comment_comment_count_replaced" (child_key, parent)
      SELECT "rowid", "post_id" FROM "comment" AS conflicting_row WHERE (conflicting_row.rowid = new.rowid);
  END;
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_insert" AFTER INSERT ON "comment"
  BEGIN
    UPDATE "post" SET "comment_count" = (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    ) WHERE ("id" = new."post_id"
      OR "id" IN (SELECT parent FROM "comment_comment_count_replaced")
      OR "id" IN (SELECT child_key FROM "comment_comment_count_replaced"))
      AND "comment_count" IS NOT (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    );
    DELETE FROM "comment_comment_count_replaced" WHERE child_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_update" AFTER UPDATE ON "comment"
  BEGIN
    UPDATE "comment_comment_count_replaced" SET parent = new."post_id"
      WHERE child_key = old."rowid" AND parent IS old."post_id";
    UPDATE "post" SET "comment_count" = (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    ) WHERE ("id" IN (old."post_id", new."post_id"))
      AND "comment_count" IS NOT (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    );
  END;
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_update_replace" BEFORE UPDATE OF "id", "rowid", "_rowid_", "oid" ON "comment"
  BEGIN
    DELETE FROM "comment_comment_count_replaced" WHERE child_key IS NOT NULL;
    INSERT INTO "comment_comment_count_replaced" (child_key, parent)
      SELECT "rowid", "post_id" FROM "comment" AS conflicting_row
      WHERE (conflicting_row.rowid = new.rowid) AND conflicting_row."rowid" IS NOT old."rowid";
  END;
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_update_replaced" AFTER UPDATE OF "id", "rowid", "_rowid_", "oid" ON "comment"
  WHEN EXISTS (SELECT 1 FROM "comment_comment_count_replaced")
  BEGIN
    UPDATE "post" SET "comment_count" = (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    ) WHERE ("id" IN (SELECT parent FROM "comment_comment_count_replaced")
      OR "id" IN (SELECT child_key FROM "comment_comment_count_replaced"))
      AND "comment_count" IS NOT (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = "post"."id"
    );
    DELETE FROM "comment_comment_count_replaced" WHERE child_key IS NOT NULL;
  END;
CREATE TRIGGER IF NOT EXISTS main."comment_comment_count_delete" AFTER DELETE ON "comment"
  BEGIN
    UPDATE "post" SET "comment_count" = (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = old."post_id"
    ) WHERE ("id" = old."post_id")
      AND "comment_count" IS NOT (
      SELECT count(*) FROM "comment" AS counted_row
      WHERE counted_row."post_id" = old."post_id"
    );
  END;
UPDATE "post" SET "comment_count" = (
  SELECT count(*) FROM "comment" AS counted_row
  WHERE counted_row."post_id" = "post"."id"
);
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'counter_cache:comment_comment_count', '1.0.0', '{"child_fk":"post_id","child_key":"rowid","child_table":"comment","condition":"","conflict_columns":["id","rowid","_rowid_","oid"],"conflicts":"conflicting_row.rowid = new.rowid","delete_trigger":"comment_comment_count_delete","index_name":"comment_comment_count_idx","insert_trigger":"comment_comment_count_insert","name":"comment_comment_count","parent_column":"comment_count","parent_key":"id","parent_table":"post","replace_trigger":"comment_comment_count_replace","replaced_table":"comment_comment_count_replaced","total":"","update_replace_trigger":"comment_comment_count_update_replace","update_replaced_trigger":"comment_comment_count_update_replaced","update_trigger":"comment_comment_count_update"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'counter_cache:comment_comment_count');
COMMIT;
