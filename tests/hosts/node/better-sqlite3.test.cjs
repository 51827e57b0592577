'use strict';
// better-sqlite3 12 (its own SQLite), loading through require('sqlite-triggers').load(db).
const test = require('node:test');
const assert = require('node:assert/strict');
const Database = require('better-sqlite3');
const { load } = require('sqlite-triggers');
const { versions, seedStory, feedAndOutbox, syncAdapter } = require('./story.cjs');

function connect() {
  const db = new Database(':memory:');
  load(db);
  return syncAdapter(db);
}

test('better-sqlite3: the extension loads and is the packages\' version', async (t) => {
  const sqlite = await versions(connect());
  t.diagnostic(`better-sqlite3 ${require('better-sqlite3/package.json').version}: SQLite ${sqlite}`);
});

test('better-sqlite3: seed story', async () => seedStory(connect()));

test('better-sqlite3: feed and outbox', async () => feedAndOutbox(connect()));

test('better-sqlite3: SQL errors carry the extension\'s message', () => {
  const db = new Database(':memory:');
  load(db);
  assert.throws(() => db.prepare("SELECT trigger_install('nope')").get(), /unknown pack "nope"/);
});
