// oxidis-lua on wasm32: the cases of tests/cases (the same the native tests run), compiled
// into examples/wasm_check.rs and run here in Node, plus the module's own properties. Run by
// `cargo xtask test` (suite "oxidis-lua on wasm32 (node)"), which builds the module and
// passes its path in OXIDIS_LUA_WASM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const path = process.env.OXIDIS_LUA_WASM;
if (!path) throw new Error('set OXIDIS_LUA_WASM to the wasm_check module (cargo xtask test does)');
const module = new WebAssembly.Module(readFileSync(path));

test('the module imports nothing (no WASI, no JS glue needed)', () => {
  assert.deepEqual(WebAssembly.Module.imports(module), []);
});

const x = new WebAssembly.Instance(module, {}).exports;
const text = (len) => new TextDecoder().decode(new Uint8Array(x.memory.buffer, x.out_ptr(), len));

const n = x.case_count();
test('there are cases', () => assert.ok(n >= 10, `only ${n} cases`));
for (let i = 0; i < n; i++) {
  const name = text(x.case_name(i));
  test(name, () => {
    const failed = x.case_run(i);
    assert.equal(failed, 0, failed ? text(failed) : '');
  });
}
