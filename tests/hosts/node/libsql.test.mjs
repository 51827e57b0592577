// libsql (libSQL's SQLite fork, better-sqlite3's API), loading through the ES module entry.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import Database from 'libsql';
import sqliteTriggers, { load, getLoadablePath } from 'sqlite-triggers';
import story from './story.cjs';

const require = createRequire(import.meta.url);
const { versions, seedStory, feedAndOutbox, syncAdapter } = story;

function connect() {
  const db = new Database(':memory:');
  load(db);
  return syncAdapter(db);
}

test('libsql: the ES module entry is the CommonJS one', () => {
  assert.equal(sqliteTriggers.load, load);
  assert.equal(getLoadablePath(), require('sqlite-triggers').getLoadablePath());
});

test('libsql: the extension loads and is the packages\' version', async (t) => {
  const sqlite = await versions(connect());
  // libsql's exports do not include its package.json
  const { version } = JSON.parse(readFileSync('node_modules/libsql/package.json', 'utf8'));
  t.diagnostic(`libsql ${version}: SQLite ${sqlite}`);
});

test('libsql: seed story', async () => seedStory(connect()));

test('libsql: feed and outbox', async () => feedAndOutbox(connect()));
