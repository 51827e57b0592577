'use strict';
// The Node snippet of README.md's "Loading the extension" runs as shown.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');

function nodeSnippet() {
  const readme = readFileSync(join(__dirname, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Loading the extension'));
  assert.ok(section, 'README.md has no "## Loading the extension" section');
  const blocks = [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  const node = blocks.filter((b) => b.includes("require('sqlite-triggers')"));
  assert.equal(node.length, 1, 'one ```js block with require(\'sqlite-triggers\')');
  return node[0];
}

test('README.md\'s Node snippet loads the extension into better-sqlite3', () => {
  const snippet = nodeSnippet();
  const printed = [...snippet.matchAll(/\/\/ prints (.*)$/gm)].map((m) => m[1]);
  assert.ok(printed.length > 0, 'the snippet shows what it prints (// prints ...)');
  const script = join(__dirname, 'readme-snippet.cjs');
  writeFileSync(script, snippet);
  const cwd = mkdtempSync(join(tmpdir(), 'sqlite-triggers-readme-'));
  try {
    const out = execFileSync(process.execPath, [script], { cwd, encoding: 'utf8' });
    assert.deepEqual(out.trimEnd().split('\n'), printed);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
