// Every golden transcript (testdata/golden) through BOTH call paths, in lockstep on two
// manual-clock engines: engine A gets each request's RESP bytes (client.send, the RESP path:
// the core's golden runner checks its replies against the transcript, recorded from
// redis-server), engine B gets the same request as arguments through client.call (the direct
// path: no RESP encoding, replies read from the engine's output by the wrapper). B's reply
// must equal A's reply as the RESP path decodes it (decodeFrames: the Rust reader the facade
// used before), with any other frames (pushes) alike, and both clients close alike. Requests
// that are not one well-formed multibulk (@raw protocol tests) go to both engines as bytes.
// A call that blocks on B (it returns a Promise) is compared when settled: its results in
// order against A's next replies for that client. Binary modes rotate over the
// transcripts (lossy text, text-or-bytes, bytes) so each reader is exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine, ReplyError, EngineError, _testing } from 'oxidis';

const root = fileURLToPath(new URL('../../testdata/golden/', import.meta.url));
// Topology transcripts (several engines) run in golden-topology.test.mjs.
const names = (process.env.GOLDEN_FILES ?? '').split('\n').filter((n) => n && !n.startsWith('topology/'));
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The arguments of `bytes` if it is exactly one multibulk request, else null. */
function splitRequest(bytes) {
  let p = 0;
  const line = () => {
    const cr = bytes.indexOf(13, p);
    if (cr < 0 || bytes[cr + 1] !== 10) return null;
    const s = new TextDecoder().decode(bytes.subarray(p, cr));
    p = cr + 2;
    return /^\d+$/.test(s.slice(1)) ? [s[0], Number(s.slice(1))] : null;
  };
  const head = line();
  if (!head || head[0] !== '*' || head[1] === 0) return null;
  const args = [];
  for (let i = 0; i < head[1]; i++) {
    const h = line();
    if (!h || h[0] !== '$' || p + h[1] + 2 > bytes.length) return null;
    const b = bytes.slice(p, p + h[1]);
    p += h[1] + 2;
    if (bytes[p - 2] !== 13 || bytes[p - 1] !== 10) return null;
    // Valid UTF-8 goes as a string (the string packing path), the rest as bytes.
    let arg = b;
    try {
      arg = strict.decode(b);
    } catch {}
    args.push(arg);
  }
  return p === bytes.length ? args : null;
}

const same = (a, b) => {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
};
const show = (v) => {
  try {
    return JSON.stringify(v, (_, x) =>
      x instanceof Error ? `${x.name}: ${x.message}` : typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes[${[...x]}]` : x instanceof Map ? ['Map', ...x] : x instanceof Set ? ['Set', ...x] : x,
    );
  } catch {
    return String(v);
  }
};

async function runBoth(name, text, mode) {
  // Transcripts under cluster/ need a cluster-mode node (oxidis_core::golden::needs_cluster).
  const config = { 'enable-debug-command': 'yes', ...(name.startsWith('cluster/') ? { 'cluster-enabled': 'yes' } : {}) };
  const opts = { clock: 'manual', time: 1_700_000_000_000, seed: 1, config };
  const a = new Engine(opts);
  const b = new Engine(opts);
  const binary = [false, true, 'always'][mode];
  const ca = [];
  const cb = [];
  const problems = [];
  // A call that blocked on B returned a Promise: its result (seen when settled, through the
  // client's test hook) is owed to A's next reply for that client, compared at the end.
  const owed = [];
  const silenced = [];
  const rawMode = [];
  const got = [];
  const want = [];
  const pushed = [];
  const takeB = (i) => [...pushed[i].splice(0), ...decode(cb[i].send(new Uint8Array(0))).map(([, v]) => v)];
  const decode = (bytes) => _testing.decodeFrames(bytes, mode);
  const hook = (i) => (v) => got[i].push(v);
  const client = (i) => {
    while (ca.length <= i) {
      const k = ca.length;
      ca.push(a.connect());
      cb.push(b.connect({ binary }));
      cb[k]._onSettle = hook(k);
      // Output taken while a call waits (a push) goes to listeners: B's frames are these, then
      // what is still waiting.
      pushed.push([]);
      cb[k].onPush((v) => pushed[k].push(v));
      owed.push(0);
      silenced.push(false);
      rawMode.push(false);
      got.push([]);
      want.push([]);
    }
    return i;
  };
  /** A's frames for client i: owed ones go to the late comparison; the rest are returned. */
  const settle = (i, frames) => {
    const rest = [];
    for (const f of frames) {
      if (owed[i] > 0 && !f[0]) {
        owed[i]--;
        want[i].push(f[1]);
      } else rest.push(f);
    }
    return rest;
  };
  // ACL GENPASS answers random bytes (Web Crypto), different on each engine: same length.
  const random = (args) => String(args[0]).toUpperCase() === 'ACL' && String(args[1]).toUpperCase() === 'GENPASS';
  try {
    const failures = _testing.runGolden(
      name,
      text,
      (i, bytes) => {
        client(i);
        // Output that was waiting (a message published meanwhile) is compared first: the
        // direct path keeps it apart from the call's reply, as the RESP path's call() does.
        const preA = ca[i].send(new Uint8Array(0));
        const pre = settle(i, decode(preA)).map(([, v]) => v);
        if (!cb[i].closed && !rawMode[i]) {
          const preB = takeB(i);
          if (!same(preB, pre)) problems.push(`${name}: waiting output of ${i}: direct ${show(preB)}, RESP ${show(pre)}`);
        }
        const sent = ca[i].send(bytes);
        const out = new Uint8Array(preA.length + sent.length);
        out.set(preA);
        out.set(sent, preA.length);
        const args = splitRequest(bytes);
        if (args && /^client$/i.test(String(args[0])) && /^reply$/i.test(String(args[1] ?? ''))) {
          silenced[i] = !/^on$/i.test(String(args[2] ?? ''));
        }
        if (!args || cb[i].closed || rawMode[i]) {
          raw++;
          const frames = settle(i, decode(sent)).map(([, v]) => v);
          const mine = cb[i].closed ? [] : decode(cb[i].send(bytes)).map(([, v]) => v);
          if (!same(mine, frames)) problems.push(`${name}: raw ${show(bytes)}: ${show(mine)} on B, ${show(frames)} on A`);
          return out;
        }
        compared++;
        const frames = settle(i, decode(sent));
        let reply;
        try {
          reply = cb[i].call(...args);
        } catch (e) {
          if (!(e instanceof ReplyError)) {
            problems.push(`${name}: ${show(args)} threw ${e}`);
            return out;
          }
          reply = e;
        }
        if (reply instanceof Promise) {
          reply.catch(() => {}); // its result is seen through the hook
          if (silenced[i]) {
            // A blocked call whose reply CLIENT REPLY OFF/SKIP silences never settles (call()
            // waits for a reply): the rest of this client goes as bytes, on both engines.
            rawMode[i] = true;
            if (frames.length) problems.push(`${name}: ${show(args)}: blocked on B, RESP ${show(frames)}`);
            return out;
          }
          owed[i]++;
          // A's reply may have come already (it was owed before this call ran on B).
          const rest = settle(i, frames);
          if (rest.length) problems.push(`${name}: ${show(args)}: blocked on B, RESP ${show(rest)}`);
          return out;
        }
        const gotOthers = cb[i].closed ? [] : takeB(i);
        // The RESP path's reply: the first frame that is not a RESP3 push, else the first.
        let at = frames.findIndex(([push]) => !push);
        if (at < 0 && frames.length > 0) at = 0;
        const expect = at < 0 ? undefined : frames[at][1];
        const others = frames.filter((_, k) => k !== at).map(([, v]) => v);
        const ok = random(args)
          ? typeof reply === typeof expect && reply.length === expect.length
          : same(reply, expect) && same(gotOthers, others);
        if (!ok) {
          problems.push(`${name}: ${show(args)}: direct ${show(reply)} + ${show(gotOthers)}, RESP ${show(expect)} + ${show(others)}`);
        }
        return out;
      },
      (ms) => {
        a.advance(ms);
        b.advance(ms);
      },
      (i) => {
        client(i);
        const closed = ca[i].closed;
        if (cb[i].closed !== closed) problems.push(`${name}: client ${i} closed ${closed} on RESP, ${cb[i].closed} direct`);
        return closed;
      },
      (i) => {
        client(i);
        const out = ca[i].send(new Uint8Array(0));
        const rest = settle(i, decode(out)).map(([, v]) => v);
        const mine = cb[i].closed ? [] : takeB(i);
        if (!same(mine, rest)) problems.push(`${name}: @read ${i}: direct ${show(mine)}, RESP ${show(rest)}`);
        return out;
      },
    );
    for (let i = 0; i < ca.length; i++) {
      // A call still blocked at the end has no reply on either side; a call pending when the
      // server closed the client is rejected (EngineError) where the RESP path has nothing.
      got[i] = got[i].filter((v) => !(v instanceof EngineError));
      if (!same(got[i], want[i])) problems.push(`${name}: client ${i}'s blocked calls: direct ${show(got[i])}, RESP ${show(want[i])}`);
    }
    return [...failures, ...problems];
  } finally {
    a.free();
    b.free();
  }
}
let compared = 0;
let raw = 0;

test('there are golden transcripts', () =>
  assert.ok(names.length > 10, `${names.length} in GOLDEN_FILES (set by cargo xtask test wasm)`));

names.forEach((name, k) => {
  test(`golden ${name} (RESP and direct paths)`, async () => {
    const failures = await runBoth(name, readFileSync(join(root, name), 'utf8'), k % 3);
    assert.deepEqual(failures, []);
  });
});

test('the transcripts ran through the direct path', () => {
  // Most requests are one multibulk: nearly all must have been compared, not sent raw.
  assert.ok(compared > 0.9 * (compared + raw), `${compared} compared, ${raw} sent as bytes only`);
});
