// Every golden transcript (testdata/golden) through the wasm build: the core's own runner
// (oxidis_core::golden, compiled into the package as runGolden) drives a manual-clock Engine
// through client.send, so replies must be byte-identical to the native engine's and Redis's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGolden } from 'oxidis';

const root = fileURLToPath(new URL('../../testdata/golden/', import.meta.url));
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.resp')) files.push(p);
  }
})(root);

test('there are golden transcripts', () => assert.ok(files.length > 10, `${files.length} files`));

for (const f of files) {
  const name = relative(root, f);
  test(`golden ${name}`, () => {
    const failures = runGolden(name, readFileSync(f, 'utf8'));
    assert.deepEqual(failures, []);
  });
}
