'use strict';
// The Node snippets of README.md's "Loading the extension" run as shown.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');

function nodeSnippets() {
  const readme = readFileSync(join(__dirname, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Loading the extension'));
  assert.ok(section, 'README.md has no "## Loading the extension" section');
  const blocks = [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
  assert.ok(blocks.every((b) => b.includes("require('sqlite-triggers')")),
    'every ```js block uses the package');
  return blocks;
}

// Each host in a process of its own: the extension serves one SQLite
// library per process.
for (const [host, module] of [['better-sqlite3', "require('better-sqlite3')"],
  ['libsql', "require('libsql')"], ['node-sqlite3', "require('sqlite3')"]]) {
  test(`README.md's Node snippet for ${host} runs as shown`, () => {
    const snippet = nodeSnippets().filter((b) => b.includes(module));
    assert.equal(snippet.length, 1, `one \`\`\`js block with ${module}`);
    const printed = [...snippet[0].matchAll(/\/\/ prints (.*)$/gm)].map((m) => m[1]);
    assert.ok(printed.length > 0, 'the snippet shows what it prints (// prints ...)');
    const script = join(__dirname, `readme-snippet-${host}.cjs`);
    writeFileSync(script, snippet[0]);
    const cwd = mkdtempSync(join(tmpdir(), 'sqlite-triggers-readme-'));
    try {
      const out = execFileSync(process.execPath, [script], { cwd, encoding: 'utf8' });
      assert.deepEqual(out.trimEnd().split('\n'), printed);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
}
