-- pack: default_album
-- version: 1.1.0
-- description: Every new user gets an album named 'default album', inserted only if it does not already exist.
-- param: user_table | ident | "user" | table whose inserts fire the trigger
-- param: user_key | ident | "id" | key column of the user table
-- param: album_table | ident | "album" | table the album row goes into
-- param: album_user_fk | ident | "user_id" | column of the album table that refers to the user key
-- param: album_name_column | ident | "album_name" | name column of the album table
-- param: album_name | text | "default album" | name of the album every new user gets
-- param: trigger_name | ident | "user_default_album" | name of the trigger
-- param: index_name | ident | "{trigger_name}_idx" | name of the index that backs the NOT EXISTS guard
-- requires: user_table | user_key
-- requires: album_table | album_user_fk album_name_column
-- object: index | index_name | album_table
-- object: trigger | trigger_name | user_table
--
-- "Create if not exists": the guard is the trigger's WHEN clause, so the body
-- is a plain INSERT ... VALUES that SQLite runs without materialising a
-- SELECT that reads the table it writes; the guard looks the album up
-- through the index, so loading many users stays linear.
CREATE INDEX IF NOT EXISTS main.{{index_name}} ON {{album_table}}({{album_user_fk}}, {{album_name_column}});
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{user_table}}
  WHEN NOT EXISTS (
    SELECT 1 FROM {{album_table}}
    WHERE {{album_user_fk}} = new.{{user_key}} AND {{album_name_column}} = {{album_name}}
  )
  BEGIN
    INSERT INTO {{album_table}}({{album_user_fk}}, {{album_name_column}})
      VALUES (new.{{user_key}}, {{album_name}});
  END;
