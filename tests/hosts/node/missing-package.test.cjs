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
