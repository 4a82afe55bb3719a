// Test helpers shared by the node tests of the browser library.

/** hex turns "02 00 03 61" (whitespace ignored) into bytes. */
export function hex(s) {
  const t = s.replace(/\s+/g, '');
  if (t.length % 2 !== 0 || /[^0-9a-f]/i.test(t)) throw new Error(`bad hex ${s}`);
  const b = new Uint8Array(t.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(t.substr(2 * i, 2), 16);
  return b;
}

/** toHex renders bytes as "02 00 03 61". */
export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** seq returns n bytes 0, 1, 2, ... (mod 256), as the Go tests' seq does. */
export function seq(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i & 0xff;
  return b;
}

/** concat joins byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
