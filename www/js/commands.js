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

/** Redis's documentation page of a command ("CLIENT KILL" -> .../commands/client-kill/). */
export function docsUrl(name) {
  return `https://redis.io/commands/${name.toLowerCase().replace(/[ |]/g, '-')}/`;
}

/**
 * What `help`, `help <command>` and `help @<group>` print, as redis-cli prints them, from the
 * engine's command table (COMMAND DOCS).
 */
export function helpText(arg) {
  const t = commandTable();
  const words = arg.trim().split(/\s+/).filter(Boolean);
  const entry = (name) => {
    const c = t.get(name);
    return `\n  ${syntax(name)}\n  summary: ${c.summary}\n  since: ${c.since}\n  group: ${c.group}\n  docs: ${docsUrl(name)}`;
  };
  if (!words.length) {
    const groups = [...new Set([...t.values()].map((c) => c.group))].sort();
    return [
      'oxidis playground (the Oxidis engine, Redis 7.0 compatible, in this page)',
      'To get help about Redis commands type:',
      '      "help @<group>" to get a list of commands in <group>',
      '      "help <command>" for help on <command>',
      '      Tab completes a command name, ↑/↓ walk the history, ";" or new lines pipeline',
      '',
      `Groups: ${groups.map((g) => `@${g}`).join(' ')}`,
    ].join('\n');
  }
  if (words[0].startsWith('@')) {
    const g = words[0].slice(1).toLowerCase();
    const names = [...t.keys()].filter((n) => t.get(n).group === g && !t.get(n).container).sort();
    if (!names.length) return `No commands in the group @${g}.`;
    return names.map(entry).join('\n');
  }
  const name = commandOf(words) ?? (t.has(words.join(' ').toUpperCase()) ? words.join(' ').toUpperCase() : null);
  if (!name) {
    const m = complete(words[0]);
    return m.length ? `No command ${words[0]}. Commands starting so: ${m.slice(0, 12).join(' ')}` : `No command ${words[0]}: try help @string, help @list ...`;
  }
  return entry(name);
}
