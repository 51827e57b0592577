// What getLoadablePath() and load() say on a platform without a prebuilt
// extension, through both entries: process.platform, process.arch and
// Node's report of the C library are set to another platform's for the test.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { realpathSync } from 'node:fs';
import * as esm from 'sqlite-triggers';

const require = createRequire(import.meta.url);
const cjs = require('sqlite-triggers');
const HOW = " Elsewhere, build the extension from source (cargo build --release) and pass its path to your SQLite binding's loadExtension.";

function as(platform, arch, glibc, body) {
  const saved = {
    platform: Object.getOwnPropertyDescriptor(process, 'platform'),
    arch: Object.getOwnPropertyDescriptor(process, 'arch'),
    getReport: process.report.getReport,
  };
  Object.defineProperty(process, 'platform', { ...saved.platform, value: platform });
  Object.defineProperty(process, 'arch', { ...saved.arch, value: arch });
  process.report.getReport = () => {
    const report = saved.getReport.call(process.report);
    if (!glibc) delete report.header.glibcVersionRuntime;
    return report;
  };
  try {
    return body();
  } finally {
    Object.defineProperty(process, 'platform', saved.platform);
    Object.defineProperty(process, 'arch', saved.arch);
    process.report.getReport = saved.getReport;
  }
}

function refuses(platform, arch, glibc, message) {
  for (const [entry, api] of [['require', cjs], ['import', esm]]) {
    as(platform, arch, glibc, () => {
      const expected = { code: 'SQLITE_TRIGGERS_UNSUPPORTED_PLATFORM', message: message + HOW };
      assert.throws(() => api.getLoadablePath(), expected, `${entry} getLoadablePath`);
      let called = false;
      const db = { loadExtension() { called = true; } };
      assert.throws(() => api.load(db), expected, `${entry} load`);
      assert.equal(called, false, `${entry} load called loadExtension`);
    });
  }
}

test('darwin-arm64 has no prebuilt extension', () => {
  refuses('darwin', 'arm64', false,
    'sqlite-triggers has no prebuilt extension for darwin-arm64; supported: linux-x64 (glibc).');
});

test('win32-x64 has no prebuilt extension', () => {
  refuses('win32', 'x64', false,
    'sqlite-triggers has no prebuilt extension for win32-x64; supported: linux-x64 (glibc).');
});

test('linux-arm64 has no prebuilt extension', () => {
  refuses('linux', 'arm64', true,
    'sqlite-triggers has no prebuilt extension for linux-arm64 (glibc); supported: linux-x64 (glibc).');
});

test('linux-x64 with musl has no prebuilt extension', () => {
  refuses('linux', 'x64', false,
    'sqlite-triggers has no prebuilt extension for linux-x64 (musl); supported: linux-x64 (glibc).');
});

test('linux-x64 with glibc finds the .so in sqlite-triggers-linux-x64', () => {
  const path = as('linux', 'x64', true, () => esm.getLoadablePath());
  const dir = realpathSync('node_modules/sqlite-triggers-linux-x64');
  assert.equal(realpathSync(path), `${dir}/libsqlite_triggers.so`);
  assert.equal(cjs.getLoadablePath(), path);
});

test('load(db) calls db.loadExtension(getLoadablePath()) once', () => {
  const calls = [];
  cjs.load({ loadExtension: (...args) => calls.push(args) });
  assert.deepEqual(calls, [[cjs.getLoadablePath()]]);
  assert.throws(() => cjs.load({}), { name: 'TypeError', message: 'sqlite-triggers load(db): db has no loadExtension(path) method' });
});
