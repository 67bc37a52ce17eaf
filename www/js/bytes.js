// Byte helpers for the playground: building requests, showing bytes with visible escapes,
// reading the escapes a learner types in raw mode. Nothing here knows Redis semantics: the
// splitter and the renderer come from the engine (oxidis-core through the wasm package).

const enc = new TextEncoder();
const dec = new TextDecoder();

export const utf8 = (s) => enc.encode(s);
export const text = (b) => dec.decode(b);

/** Concatenates Uint8Arrays. */
export function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A RESP multibulk request (what redis-cli sends): *N, then $len and bytes per argument. */
export function encodeRequest(args) {
  const parts = [utf8(`*${args.length}\r\n`)];
  for (const a of args) {
    parts.push(utf8(`$${a.length}\r\n`), a, utf8('\r\n'));
  }
  return concat(parts);
}

/** One byte as shown on the wire: \r and \n as visible escapes, \xHH for other non-printables. */
export function showByte(b) {
  if (b === 13) return '\\r';
  if (b === 10) return '\\n';
  if (b === 9) return '\\t';
  if (b === 92) return '\\\\';
  if (b >= 32 && b < 127) return String.fromCharCode(b);
  return '\\x' + b.toString(16).padStart(2, '0');
}

/** Bytes as visible text (\r\n shown as the four characters \r\n). */
export function showBytes(bytes, start = 0, end = bytes.length) {
  let s = '';
  for (let i = start; i < end; i++) s += showByte(bytes[i]);
  return s;
}

/**
 * What a learner types in raw mode, as bytes: \r \n \t \\ \" \xHH are escapes; everything
 * else is its UTF-8. Returns { bytes } or { error } for a bad escape.
 */
export function parseEscapes(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out.push(...utf8(c));
      continue;
    }
    const n = s[i + 1];
    if (n === undefined) return { error: 'a lone \\ at the end (write \\\\ for a backslash)' };
    i++;
    if (n === 'r') out.push(13);
    else if (n === 'n') out.push(10);
    else if (n === 't') out.push(9);
    else if (n === '\\') out.push(92);
    else if (n === '"') out.push(34);
    else if (n === '0') out.push(0);
    else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else return { error: `unknown escape \\${n} (use \\r \\n \\t \\\\ \\xHH)` };
  }
  return { bytes: new Uint8Array(out) };
}

/**
 * Splits console input into commands: one per line, and ';' outside quotes separates commands
 * on a line (the playground's way to type a pipeline). Quotes follow redis-cli's rules closely
 * enough to find the separators; the engine's splitter then reads each command.
 */
export function splitCommands(input) {
  const cmds = [];
  for (const line of input.split(/\r?\n/)) {
    let cur = '';
    let q = null;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (q) {
        cur += c;
        if (c === '\\' && q === '"' && i + 1 < line.length) cur += line[++i];
        else if (c === '\\' && q === "'" && line[i + 1] === "'") cur += line[++i];
        else if (c === q) q = null;
      } else if (c === '"' || c === "'") {
        q = c;
        cur += c;
      } else if (c === ';') {
        if (cur.trim()) cmds.push(cur.trim());
        cur = '';
      } else cur += c;
    }
    if (cur.trim()) cmds.push(cur.trim());
  }
  return cmds;
}

/** base64url of UTF-8 text, for share links. */
export function toBase64Url(s) {
  let bin = '';
  for (const b of utf8(s)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return text(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

export function bytesToBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export function base64ToBytes(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
