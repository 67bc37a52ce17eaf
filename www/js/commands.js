// Autocomplete and syntax hints from the engine's command table (the same table the server
// dispatches with): names, arity, summary and COMMAND DOCS's arguments.

import { commands } from '../pkg/index.js';

let table = null;

/** name (uppercase, "CLIENT KILL" for subcommands) -> command info. */
export function commandTable() {
  if (table) return table;
  table = new Map();
  for (const c of commands()) {
    table.set(c.name.replace('|', ' ').toUpperCase(), c);
  }
  return table;
}

/** One argument of COMMAND DOCS as syntax text, as Redis's docs write it. */
function argSyntax(a) {
  let inner;
  if (a.type === 'pure-token') inner = a.token;
  else if (a.type === 'oneof') inner = (a.arguments ?? []).map(argSyntax).join(' | ');
  else if (a.type === 'block') inner = (a.arguments ?? []).map(argSyntax).join(' ');
  else inner = a.name;
  const flags = a.flags ?? [];
  let s = a.token && a.type !== 'pure-token' ? `${a.token} ${inner}` : inner;
  if (flags.includes('multiple')) s = flags.includes('multiple_token') ? `${s} [${s} ...]` : `${s} [${inner} ...]`;
  if (flags.includes('optional')) return `[${s}]`;
  if (a.type === 'oneof') return `<${s}>`;
  return s;
}

/** "SET key value [NX | XX] ..." for a command (its arguments from COMMAND DOCS). */
export function syntax(name) {
  const c = commandTable().get(name);
  if (!c) return null;
  const args = c.docs.arguments ?? [];
  return [name, ...args.map(argSyntax)].join(' ');
}

/** The command name the input starts with (two words for a container's subcommand). */
export function commandOf(words) {
  const t = commandTable();
  if (!words.length) return null;
  const first = words[0].toUpperCase();
  const c = t.get(first);
  if (c && c.container && words.length > 1) {
    const sub = `${first} ${words[1].toUpperCase()}`;
    if (t.has(sub)) return sub;
  }
  return c ? first : null;
}

/** Commands whose name starts with `prefix` (uppercase), shortest first. */
export function complete(prefix) {
  const p = prefix.toUpperCase();
  if (!p) return [];
  return [...commandTable().keys()].filter((n) => n.startsWith(p)).sort((a, b) => a.length - b.length || a.localeCompare(b));
}

/** The hint shown under the console input for what has been typed so far. */
export function hint(input) {
  const words = input.trim().split(/\s+/).filter(Boolean);
  if (!words.length) return { text: 'Type a command, e.g. SET greeting hello (Tab completes, ↑/↓ history, ; or new lines pipeline).', matches: [] };
  const name = commandOf(words);
  if (name) {
    const c = commandTable().get(name);
    const arity = c.arity < 0 ? `at least ${-c.arity - 1}` : `${c.arity - 1}`;
    return {
      text: `${syntax(name)} — ${c.summary} (arguments: ${arity}; since ${c.since}; ${c.complexity || 'O(?)'})`,
      matches: [],
      name,
    };
  }
  if (words.length === 1 && !/\s$/.test(input)) {
    const m = complete(words[0]);
    if (m.length) return { text: m.slice(0, 8).join('  ') + (m.length > 8 ? `  … ${m.length - 8} more` : ''), matches: m };
  }
  return { text: `Unknown command ${words[0]}: the server will reply with an error.`, matches: [] };
}
