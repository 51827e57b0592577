'use strict';
// Runs where sqlite-triggers was installed without its optional
// dependencies (npm install --omit=optional): linux-x64 is supported, but
// its package is missing.
const test = require('node:test');
const assert = require('node:assert/strict');
const { existsSync } = require('node:fs');

test('the platform package is really missing here', () => {
  assert.ok(existsSync('node_modules/sqlite-triggers/package.json'));
  assert.ok(!existsSync('node_modules/sqlite-triggers-linux-x64'));
});

const expected = {
  code: 'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
  message: 'sqlite-triggers supports linux-x64 (glibc), but its package for this platform, ' +
    'sqlite-triggers-linux-x64, is not installed (an install with --no-optional or ' +
    '--omit=optional leaves it out): npm install sqlite-triggers-linux-x64@0.1.0',
};

test('getLoadablePath() and load() name the missing package (require)', () => {
  const { getLoadablePath, load } = require('sqlite-triggers');
  assert.throws(() => getLoadablePath(), expected);
  assert.throws(() => load({ loadExtension() { throw new Error('must not be called'); } }), expected);
});

test('getLoadablePath() and load() name the missing package (import)', async () => {
  const { getLoadablePath, load } = await import('sqlite-triggers');
  assert.throws(() => getLoadablePath(), expected);
  assert.throws(() => load({ loadExtension() { throw new Error('must not be called'); } }), expected);
});

// A platform package of another version, then one without its .so, put
// where npm would have installed it.
test('a platform package of another version or without its .so is named', async (t) => {
  const { mkdirSync, rmSync, writeFileSync } = require('node:fs');
  const { join, resolve } = require('node:path');
  const dir = resolve('node_modules/sqlite-triggers-linux-x64');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const manifest = (version) => writeFileSync(join(dir, 'package.json'),
    JSON.stringify({ name: 'sqlite-triggers-linux-x64', version }));
  mkdirSync(dir);
  manifest('0.0.9');
  const { getLoadablePath } = require('sqlite-triggers');
  assert.throws(() => getLoadablePath(), {
    code: 'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
    message: 'sqlite-triggers 0.1.0 needs sqlite-triggers-linux-x64@0.1.0, but version 0.0.9 ' +
      'is installed: npm install sqlite-triggers-linux-x64@0.1.0',
  });
  manifest('0.1.0');
  delete require.cache[join(dir, 'package.json')];
  assert.throws(() => getLoadablePath(), {
    code: 'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
    message: 'sqlite-triggers: sqlite-triggers-linux-x64 is installed but holds no ' +
      `libsqlite_triggers.so (looked for ${join(dir, 'libsqlite_triggers.so')}): ` +
      'reinstall sqlite-triggers-linux-x64@0.1.0',
  });
});
