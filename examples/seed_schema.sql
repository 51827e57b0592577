-- The schema of the seed story: observations with their tasks, and users
-- with their albums. The packs never create these tables; they only attach
-- triggers (and the indexes the triggers need) to them.
CREATE TABLE obs (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE task (
  id     INTEGER PRIMARY KEY,
  obs_id INTEGER NOT NULL REFERENCES obs(id),
  name   TEXT NOT NULL,
  state  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE user (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE album (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES user(id),
  album_name TEXT NOT NULL
);
