'use strict';
// node-sqlite3 (the asynchronous sqlite3 package), built against the system
// SQLite: its loadExtension(path, callback) is given getLoadablePath().
const test = require('node:test');
const assert = require('node:assert/strict');
const { promisify } = require('node:util');
const sqlite3 = require('sqlite3');
const { getLoadablePath, load } = require('sqlite-triggers');
const { versions, seedStory, feedAndOutbox } = require('./story.cjs');

async function connect() {
  const db = new sqlite3.Database(':memory:');
  await promisify(db.loadExtension.bind(db))(getLoadablePath());
  const all = promisify(db.all.bind(db));
  const exec = promisify(db.exec.bind(db));
  return {
    exec,
    async rows(sql) { return (await all(sql)).map((row) => Object.values(row)); },
  };
}

test('node-sqlite3: the extension loads and is the packages\' version', async (t) => {
  const sqlite = await versions(await connect());
  t.diagnostic(`sqlite3 ${require('sqlite3/package.json').version}: SQLite ${sqlite}`);
});

test('node-sqlite3: seed story', async () => seedStory(await connect()));

test('node-sqlite3: feed and outbox', async () => feedAndOutbox(await connect()));

test('node-sqlite3: load(db) says to use the asynchronous loadExtension', () => {
  const db = new sqlite3.Database(':memory:');
  assert.throws(() => load(db), {
    name: 'TypeError',
    message: "sqlite-triggers load(db): node-sqlite3's loadExtension is asynchronous; call " +
      "db.loadExtension(require('sqlite-triggers').getLoadablePath(), callback) instead",
  });
  db.close();
});
