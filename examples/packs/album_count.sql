-- pack: album_count
-- version: 1.0.0
-- description: Keeps each user's number of albums in a column of the user table.
-- param: album_table | ident | "album" | table whose rows are counted
-- param: album_user_fk | ident | "user_id" | column of the album table that refers to the user
-- param: user_table | ident | "user" | table that holds the count
-- param: user_key | ident | "id" | key column of the user table
-- param: count_column | ident | "albums" | column of the user table that holds the count
-- param: trigger_name | ident | "{album_table}_count" | name of the insert trigger
-- param: index_name | ident | "{trigger_name}_idx" | name of the index on the album table's user column
-- requires: album_table | album_user_fk
-- requires: user_table | user_key count_column
-- object: index | index_name | album_table
-- object: trigger | trigger_name | album_table
--
-- Every album inserted adds one to its user's count. The index serves the
-- recount a later version may need.
CREATE INDEX IF NOT EXISTS main.{{index_name}} ON {{album_table}}({{album_user_fk}});
CREATE TRIGGER IF NOT EXISTS main.{{trigger_name}} AFTER INSERT ON {{album_table}}
  BEGIN
    UPDATE {{user_table}} SET {{count_column}} = {{count_column}} + 1
      WHERE {{user_key}} = new.{{album_user_fk}};
  END;
