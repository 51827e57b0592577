-- Pack default_album with its default parameters, generated from sql/packs/default_album.sql.
-- Runs in any sqlite3 shell without the extension: sqlite3 -bail app.db < sql/default_album.sql
-- and creates what SELECT trigger_install('default_album') creates.
BEGIN;
-- default_album 1.1.0 (sqlite-triggers pack)
-- "Create if not exists": the guard is the trigger's WHEN clause, so the body
-- is a plain INSERT ... VALUES that SQLite runs without materialising a
-- SELECT that reads the table it writes; the guard looks the album up
-- through the index, so loading many users stays linear.
CREATE INDEX IF NOT EXISTS main."user_default_album_idx" ON "album"("user_id", "album_name");
CREATE TRIGGER IF NOT EXISTS main."user_default_album" AFTER INSERT ON "user"
  WHEN NOT EXISTS (
    SELECT 1 FROM "album"
    WHERE "user_id" = new."id" AND "album_name" = 'default album'
  )
  BEGIN
    INSERT INTO "album"("user_id", "album_name")
      VALUES (new."id", 'default album');
  END;
CREATE TABLE IF NOT EXISTS main.trigger_pack_installs (
  pack TEXT PRIMARY KEY,
  version TEXT NOT NULL,
  params TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
INSERT INTO main.trigger_pack_installs (pack, version, params)
  SELECT 'default_album', '1.1.0', '{"album_name":"default album","album_name_column":"album_name","album_table":"album","album_user_fk":"user_id","index_name":"user_default_album_idx","trigger_name":"user_default_album","user_key":"id","user_table":"user"}'
  WHERE NOT EXISTS (SELECT 1 FROM main.trigger_pack_installs WHERE pack = 'default_album');
COMMIT;
