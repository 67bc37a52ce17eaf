// The wire view: every write between a client and the server as its exact bytes, each part
// (type byte, length, payload, CRLF) a span that explains itself on hover or focus, and the
// decoded tree beside it. The tree comes from the engine's annotated decoder.

import { decodeAnnotated } from '../pkg/index.js';
import { showBytes } from './bytes.js';

const TYPE_NAMES = {
  '+': 'simple string',
  '-': 'error',
  ':': 'integer',
  $: 'bulk string',
  '*': 'array',
  _: 'null (RESP3)',
  '#': 'boolean (RESP3)',
  ',': 'double (RESP3)',
  '(': 'big number (RESP3)',
  '!': 'bulk error (RESP3)',
  '=': 'verbatim string (RESP3)',
  '%': 'map (RESP3)',
  '~': 'set (RESP3)',
  '|': 'attribute (RESP3)',
  '>': 'push (RESP3)',
};

const label = (n) => TYPE_NAMES[n.typeByte] ?? (n.type === 'inline' ? 'inline command' : n.type);

function lengthWord(n) {
  if (n.length === -1) return 'the null marker -1 (RESP2 nil)';
  if (['array', 'set', 'push'].includes(n.type)) return `${n.length} element${n.length === 1 ? '' : 's'} follow`;
  if (['map', 'attribute'].includes(n.type)) return `${n.length} key/value pair${n.length === 1 ? '' : 's'} follow`;
  return `${n.length} byte${n.length === 1 ? '' : 's'} of payload follow`;
}

/**
 * The parts of a buffer, in byte order, from its annotated frames: [{ start, end, kind, node, text }].
 * Bytes not covered by any node (after an invalid frame) are one 'rest' part.
 */
export function parts(bytes, frames) {
  const out = [];
  let id = 0;
  const walk = (n, depth) => {
    n.id = id++;
    n.depth = depth;
    const push = (start, end, kind, why) => {
      if (end > start) out.push({ start, end, kind, node: n, why });
    };
    const tb = n.typeByte;
    if (tb) push(n.start, n.start + 1, 'type', `'${tb}' type byte: ${label(n)}`);
    const crlfs = new Set(n.crlf);
    const lineEnd = n.line.end;
    if (n.length !== undefined) {
      push(n.line.start, lineEnd, 'len', `length prefix: ${lengthWord(n)}`);
    } else if (n.type === 'inline') {
      push(n.line.start, lineEnd, 'payload', 'an inline command: a line of words, split like redis-cli does');
    } else if (n.payload && n.payload.start === n.line.start) {
      push(n.line.start, lineEnd, 'payload', `payload: the ${label(n)}'s value`);
    }
    if (crlfs.has(lineEnd)) push(lineEnd, lineEnd + 2, 'crlf', 'CRLF (\\r\\n): ends the header line');
    if (n.payload && n.payload.start !== n.line.start) {
      push(n.payload.start, n.payload.end, 'payload', `payload: ${n.payload.end - n.payload.start} bytes of the ${label(n)}, binary safe`);
      if (crlfs.has(n.payload.end)) push(n.payload.end, n.payload.end + 2, 'crlf', 'CRLF (\\r\\n): ends the payload');
    }
    for (const c of n.children) walk(c, depth + 1);
  };
  for (const f of frames) walk(f, 0);
  out.sort((a, b) => a.start - b.start);
  const covered = out.length ? out[out.length - 1].end : 0;
  const last = frames[frames.length - 1];
  if (covered < bytes.length) {
    const why = last && last.status === 'invalid' ? `not RESP: ${invalidWhy(last)}` : 'bytes not decoded yet';
    out.push({ start: covered, end: bytes.length, kind: 'rest', node: null, why });
  }
  return out;
}

function invalidWhy(n) {
  if (n.status === 'invalid' && n.error && n.error !== 'invalid element') return n.error;
  for (const c of n.children) {
    const w = invalidWhy(c);
    if (w) return w;
  }
  return n.error ?? '';
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

function treeLabel(bytes, n) {
  const t = label(n);
  const dec = new TextDecoder();
  const payload = n.payload ? bytes.subarray(n.payload.start, n.payload.end) : null;
  let v = '';
  if (n.length === -1) v = 'nil';
  else if (['array', 'set', 'push', 'map', 'attribute'].includes(n.type)) v = `(${n.length})`;
  else if (payload) v = JSON.stringify(dec.decode(payload));
  const status = n.status === 'complete' ? '' : n.status === 'incomplete' ? ' … waiting for more bytes' : ` ✗ ${n.error ?? ''}`;
  return `${t} ${v}${status}`;
}

/**
 * The parts and tree of an outgoing write, from the engine's request parser (requestTrace) run
 * over the bytes the connection still had buffered plus this write: part offsets are relative to
 * the write; a request begun in an earlier write is marked as its continuation.
 */
export function requestParts(bytes, buffered, trace) {
  const off = buffered;
  const ps = [];
  for (const p of trace.parts) {
    const start = Math.max(p.start, off) - off;
    const end = p.end - off;
    if (end <= 0) continue;
    const kind = p.kind === 'inline' || p.kind === 'empty' ? 'payload' : p.kind === 'invalid' ? 'rest' : p.kind === 'pending' ? 'len' : p.kind;
    ps.push({ start, end, kind, node: { id: `r${p.request}` }, why: p.start < off ? `${p.why} (continued from an earlier write)` : p.why });
  }
  const dec = new TextDecoder();
  const tree = [];
  for (const [i, r] of trace.requests.entries()) {
    if (r.end <= off) continue;
    const cont = r.start < off ? ' (continues the bytes buffered)' : '';
    const args = r.args.map((a) => JSON.stringify(dec.decode(a)));
    let text;
    if (r.status === 'complete') text = `${r.inline ? 'inline command' : `request: array of ${r.args.length}`}${cont}`;
    else if (r.status === 'empty') text = `${r.inline ? 'empty line' : `empty array (*${r.count})`}: skipped${cont}`;
    else if (r.status === 'incomplete') text = `${r.inline ? 'inline command' : r.count !== undefined ? `request: ${r.args.length} of ${r.count} read` : 'request header'}${cont} … waiting for more bytes`;
    else text = `✗ Protocol error: ${r.error}`;
    tree.push({ id: `r${i}`, text, children: args.map((a, j) => ({ id: `r${i}`, text: `${r.inline ? 'word' : 'bulk string'} ${a}${j === 0 && r.status === 'complete' ? ' (the command)' : ''}`, children: [] })) });
  }
  const count = trace.requests.filter((r) => r.status === 'complete' && r.end > off).length;
  return { parts: ps, tree, count };
}

/**
 * A wire entry: direction, the bytes as explained spans, the decoded tree beside them.
 * `explain(text)` is called when a part is hovered or focused. Replies are decoded with the
 * engine's annotated RESP decoder; requests come with `request` ({ parts, tree } from
 * requestParts: the engine's request parser).
 */
export function wireEntry(bytes, { dir, note, explain, request }) {
  let ps;
  let treeNodes;
  let n;
  if (request) {
    ps = request.parts;
    treeNodes = request.tree;
    n = request.count;
  } else {
    const frames = decodeAnnotated(bytes);
    ps = parts(bytes, frames);
    const toTree = (f) => ({ id: f.id, text: treeLabel(bytes, f), children: f.children.map(toTree) });
    treeNodes = frames.map(toTree);
    n = frames.filter((f) => f.status === 'complete').length;
  }
  const entry = el('li', { class: `wire-entry ${dir}` });
  const head = el('div', { class: 'wire-head' });
  const arrow = dir === 'out' ? 'client → server' : 'server → client';
  head.append(
    el('span', { class: 'dir', text: arrow }),
    el('span', { class: 'meta', text: `${bytes.length} bytes${n > 1 ? `, ${n} ${dir === 'out' ? 'requests' : 'frames'} in one write (pipelined)` : ''}${note ? ` · ${note}` : ''}` }),
  );
  const raw = el('code', { class: 'bytes', 'data-testid': 'wire-bytes' });
  const spans = [];
  for (const p of ps) {
    const s = el('span', { class: `part ${p.kind}`, text: showBytes(bytes, p.start, p.end), tabindex: '-1' });
    s.dataset.node = p.node ? p.node.id : '';
    s.dataset.why = `${p.why} · bytes ${p.start}–${p.end - 1}`;
    spans.push(s);
    raw.append(s);
  }
  if (spans[0]) spans[0].tabIndex = 0;
  const tree = el('ul', { class: 'tree', 'aria-label': 'decoded' });
  const addTree = (list, node) => {
    const li = el('li', { text: node.text });
    li.dataset.node = node.id;
    list.append(li);
    if (node.children.length) {
      const ul = el('ul');
      li.append(ul);
      for (const c of node.children) addTree(ul, c);
    }
  };
  for (const f of treeNodes) addTree(tree, f);
  const body = el('div', { class: 'wire-body' }, raw, tree);
  entry.append(head, body);

  const highlight = (nodeId, on) => {
    if (nodeId === '') return;
    for (const x of entry.querySelectorAll(`[data-node="${nodeId}"]`)) x.classList.toggle('hl', on);
  };
  const show = (s) => {
    highlight(s.dataset.node, true);
    explain(s.dataset.why);
  };
  const hide = (s) => highlight(s.dataset.node, false);
  for (const s of spans) {
    s.addEventListener('mouseenter', () => show(s));
    s.addEventListener('mouseleave', () => hide(s));
    s.addEventListener('focus', () => show(s));
    s.addEventListener('blur', () => hide(s));
    s.addEventListener('click', () => s.focus());
  }
  for (const li of tree.querySelectorAll('li')) {
    li.addEventListener('mouseenter', (e) => {
      e.stopPropagation();
      highlight(li.dataset.node, true);
    });
    li.addEventListener('mouseleave', () => highlight(li.dataset.node, false));
  }
  // Roving focus: ←/→ move between the parts of this entry.
  raw.addEventListener('keydown', (e) => {
    const i = spans.indexOf(document.activeElement);
    if (i < 0) return;
    let j = i;
    if (e.key === 'ArrowRight') j = Math.min(spans.length - 1, i + 1);
    else if (e.key === 'ArrowLeft') j = Math.max(0, i - 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = spans.length - 1;
    else return;
    e.preventDefault();
    spans[i].tabIndex = -1;
    spans[j].tabIndex = 0;
    spans[j].focus();
  });
  return entry;
}
