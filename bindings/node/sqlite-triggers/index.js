'use strict';
// Finds the sqlite-triggers extension of this platform, which npm installs
// as one of the optional dependencies below (the one whose os, cpu and libc
// match), and loads it into a connection.

const { dirname, join } = require('node:path');
const { statSync } = require('node:fs');

const VERSION = require('./package.json').version;

// One entry per platform package; a new platform is a new package and a new
// line here (and in optionalDependencies).
const PLATFORMS = {
  'linux-x64': {
    packageName: 'sqlite-triggers-linux-x64',
    file: 'libsqlite_triggers.so',
    libc: 'glibc',
    label: 'linux-x64 (glibc)',
  },
};

function supportedList() {
  return Object.values(PLATFORMS).map((p) => p.label).join(', ');
}

// 'glibc' or 'musl' on Linux (Node's own report names the glibc it runs
// on), null elsewhere.
// Node's report takes milliseconds to make, and its answer does not change
// while the process runs: it is kept, for as long as getReport is the same
// function (one that stands in for it gets asked again).
let libcSeen = null;
function linuxLibc() {
  if (process.platform !== 'linux') return null;
  const getReport = process.report && typeof process.report.getReport === 'function'
    ? process.report.getReport
    : null;
  if (libcSeen && libcSeen.from === getReport) return libcSeen.libc;
  const report = getReport ? getReport.call(process.report) : null;
  const libc = report && report.header && report.header.glibcVersionRuntime ? 'glibc' : 'musl';
  libcSeen = { from: getReport, libc };
  return libc;
}

function failure(code, message) {
  const error = new Error(message);
  error.code = code;
  return error;
}

/**
 * The path of the extension built for this platform, to give to a SQLite
 * binding's loadExtension. Throws an Error with a code of
 * SQLITE_TRIGGERS_UNSUPPORTED_PLATFORM or SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING
 * when there is none.
 */
function getLoadablePath() {
  const here = `${process.platform}-${process.arch}`;
  const target = PLATFORMS[here];
  const libc = linuxLibc();
  if (!target || (target.libc && libc !== target.libc)) {
    throw failure(
      'SQLITE_TRIGGERS_UNSUPPORTED_PLATFORM',
      `sqlite-triggers has no prebuilt extension for ${libc ? `${here} (${libc})` : here};` +
        ` supported: ${supportedList()}.` +
        ' Elsewhere, build the extension from source (cargo build --release) and' +
        " pass its path to your SQLite binding's loadExtension.",
    );
  }
  let manifestPath;
  try {
    manifestPath = require.resolve(`${target.packageName}/package.json`);
  } catch (error) {
    if (error && error.code !== 'MODULE_NOT_FOUND') throw error;
    throw failure(
      'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
      `sqlite-triggers supports ${target.label}, but its package for this platform,` +
        ` ${target.packageName}, is not installed (an install with --no-optional or` +
        ` --omit=optional leaves it out): npm install ${target.packageName}@${VERSION}`,
    );
  }
  const installed = require(manifestPath).version;
  if (installed !== VERSION) {
    throw failure(
      'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
      `sqlite-triggers ${VERSION} needs ${target.packageName}@${VERSION}, but version` +
        ` ${installed} is installed: npm install ${target.packageName}@${VERSION}`,
    );
  }
  const path = join(dirname(manifestPath), target.file);
  if (!statSync(path, { throwIfNoEntry: false })) {
    throw failure(
      'SQLITE_TRIGGERS_PLATFORM_PACKAGE_MISSING',
      `sqlite-triggers: ${target.packageName} is installed but holds no ${target.file}` +
        ` (looked for ${path}): reinstall ${target.packageName}@${VERSION}`,
    );
  }
  return path;
}

/**
 * Loads the extension into a connection whose loadExtension(path) is
 * synchronous: better-sqlite3's Database, libsql's Database.
 * node-sqlite3 loads asynchronously: db.loadExtension(getLoadablePath(), callback).
 */
function load(db) {
  if (!db || typeof db.loadExtension !== 'function') {
    throw new TypeError('sqlite-triggers load(db): db has no loadExtension(path) method');
  }
  if (typeof db.parallelize === 'function') {
    throw new TypeError(
      "sqlite-triggers load(db): node-sqlite3's loadExtension is asynchronous; call" +
        " db.loadExtension(require('sqlite-triggers').getLoadablePath(), callback) instead",
    );
  }
  db.loadExtension(getLoadablePath());
}

module.exports = { getLoadablePath, load };
