'use strict';
// The seed story and a feed/outbox smoke test, for any Node SQLite binding
// wrapped as { exec(sql), rows(sql) } (both async; rows gives arrays).

const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const SEED_SCHEMA = readFileSync(join(__dirname, 'seed_schema.sql'), 'utf8');

async function one(db, sql) {
  const rows = await db.rows(sql);
  assert.equal(rows.length, 1, `${sql} gave ${rows.length} rows`);
  return rows[0][0];
}

// trigger_version() is the npm packages' version; returns sqlite_version().
async function versions(db) {
  const [[extension, sqlite, debug]] = await db.rows(
    'SELECT trigger_version(), sqlite_version(), trigger_debug()');
  assert.equal(extension, require('sqlite-triggers/package.json').version);
  assert.equal(extension, require('sqlite-triggers-linux-x64/package.json').version);
  assert.equal(extension, '0.1.0');
  assert.ok(debug.includes(`running SQLite ${sqlite}`), debug);
  return sqlite;
}

async function seedStory(db) {
  await db.exec(SEED_SCHEMA);
  assert.match(await one(db, "SELECT trigger_install('task_state')"), /^installed task_state 1\.0\.0/);
  assert.match(await one(db, "SELECT trigger_install('default_album')"), /^installed default_album 1\.1\.0/);
  await db.exec(`
    INSERT INTO user (id, name) VALUES (1, 'alice'), (2, 'bob');
    INSERT INTO obs (id, name) VALUES (1, 'comet'), (2, 'nebula');
    INSERT INTO task (obs_id, name) VALUES (1, 'a'), (1, 'b'), (2, 'c');
    UPDATE obs SET state = 2 WHERE id = 1;
  `);
  assert.deepEqual(await db.rows('SELECT user_id, album_name FROM album ORDER BY 1'),
    [[1, 'default album'], [2, 'default album']]);
  assert.deepEqual(await db.rows('SELECT id, state FROM task ORDER BY id'), [[1, 2], [2, 2], [3, 0]]);
  assert.match(await one(db, "SELECT trigger_uninstall('task_state')"), /^uninstalled task_state/);
  assert.equal(await one(db, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 1);
  await db.exec('UPDATE obs SET state = 2 WHERE id = 2');
  assert.deepEqual(await db.rows('SELECT id, state FROM task ORDER BY id'), [[1, 2], [2, 2], [3, 0]],
    'task_state still fired after its uninstall');
}

async function feedAndOutbox(db) {
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  assert.equal(await one(db, "SELECT trigger_watch('*')"), 0);
  await db.exec("BEGIN; INSERT INTO t VALUES (1, 'kept'); COMMIT");
  await db.exec("BEGIN; INSERT INTO t VALUES (2, 'undone'); ROLLBACK");
  assert.deepEqual(await db.rows('SELECT seq, op, table_name, rowid FROM trigger_changes'),
    [[1, 'insert', 't', 1]]);
  assert.equal(await one(db, "SELECT trigger_unwatch('*')"), 'stopped watching every table');

  assert.match(await one(db, "SELECT trigger_capture('t')"), /^captured t into channel t: triggers /);
  await db.exec("INSERT INTO t VALUES (3, 'captured')");
  await db.exec("BEGIN; SELECT trigger_emit('c', 'x'); COMMIT");
  await db.exec("BEGIN; SELECT trigger_emit('c', 'rolled back'); ROLLBACK");
  const events = await db.rows('SELECT seq, channel, payload FROM trigger_outbox ORDER BY seq');
  assert.deepEqual(events, [
    [1, 't', '{"op":"insert","key":3,"old":null,"new":{"id":3,"v":"captured"}}'],
    [2, 'c', 'x'],
  ]);
  assert.deepEqual(JSON.parse(events[0][2]),
    { op: 'insert', key: 3, old: null, new: { id: 3, v: 'captured' } });
}

// better-sqlite3 and libsql share one synchronous API.
function syncAdapter(db) {
  return {
    async exec(sql) { db.exec(sql); },
    async rows(sql) { return db.prepare(sql).raw(true).all(); },
  };
}

module.exports = { versions, seedStory, feedAndOutbox, syncAdapter };
