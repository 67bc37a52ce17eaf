// Every golden transcript (testdata/golden) through the wasm build: the core's own runner
// (oxidis_core::golden, compiled into the package as runGolden) drives a manual-clock Engine
// through client.send, so replies must be byte-identical to the native engine's and Redis's.
// The list of transcripts is the Rust side's one walk of testdata/golden, which
// `cargo xtask test wasm` hands over in GOLDEN_FILES (one path per line, relative to it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGolden } from 'oxidis';

const root = fileURLToPath(new URL('../../testdata/golden/', import.meta.url));
// Topology transcripts (several engines) run in golden-topology.test.mjs.
const names = (process.env.GOLDEN_FILES ?? '').split('\n').filter((n) => n && !n.startsWith('topology/'));

test('there are golden transcripts', () =>
  assert.ok(names.length > 10, `${names.length} in GOLDEN_FILES (set by cargo xtask test wasm)`));

for (const name of names) {
  test(`golden ${name}`, () => {
    const failures = runGolden(name, readFileSync(join(root, name), 'utf8'));
    assert.deepEqual(failures, []);
  });
}
