'use strict';
// index.d.ts and index.d.mts type-check an ES module and a CommonJS consumer,
// and reject misuse (the @ts-expect-error lines fail the check if they pass).
const test = require('node:test');
const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

test('the TypeScript types fit both entries', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(__dirname, 'types', 'tsconfig.json')],
    { stdio: 'inherit' });
});
