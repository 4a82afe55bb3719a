// The client side of the RTMP handshake (docs/rtmp.md#handshake): C0+C1
// out, S0+S1+S2 in, C2 out. The digest form (docs/rtmp.md#digest-handshake)
// is the default, as ffmpeg sends it, and the server's blocks are checked
// the way ffmpeg checks them. SHA-256 is computed here rather than with
// crypto.subtle, which pages served over plain http from another host do
// not have and which is asynchronous.

/** Size of C1, C2, S1 and S2. */
export const BLOCK_SIZE = 1536;
/** C0/S0 of plain RTMP. */
export const VERSION = 3;
/** The player version a signing client writes in C1 bytes 4..7 (9.0.124.2, ffmpeg's). */
export const CLIENT_VERSION = 0x09007c02;

export const SCHEME1 = 1;
export const SCHEME2 = 2;

const tail32 = [
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57,
  0x6e, 0xec, 0x5d, 0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
];
const ascii = (s) => Array.from(s, (c) => c.charCodeAt(0));
/** The full player key (62 bytes); its first 30 bytes sign C1. */
export const PLAYER_KEY = new Uint8Array([...ascii('Genuine Adobe Flash Player 001'), ...tail32]);
/** The full server key (68 bytes); its first 36 bytes sign S1. */
export const SERVER_KEY = new Uint8Array([...ascii('Genuine Adobe Flash Media Server 001'), ...tail32]);

/** HandshakeError: the server's blocks were not RTMP or not correctly signed. */
export class HandshakeError extends Error {
  constructor(message) {
    super(`handshake: ${message}`);
    this.name = 'HandshakeError';
  }
}

// ---------------------------------------------------------------------------
// SHA-256 and HMAC (FIPS 180-4, RFC 2104)

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** sha256 returns the SHA-256 digest of the concatenated byte arrays. */
export function sha256(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const padded = new Uint8Array(Math.ceil((len + 9) / 64) * 64);
  let off = 0;
  for (const p of parts) { padded.set(p, off); off += p.length; }
  padded[len] = 0x80;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, Math.floor(len / 0x20000000));
  dv.setUint32(padded.length - 4, (len * 8) >>> 0);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let blk = 0; blk < padded.length; blk += 64) {
    for (let i = 0; i < 16; i++) w[i] = dv.getUint32(blk + 4 * i);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(4 * i, h[i]);
  return out;
}

/** hmacSHA256 returns HMAC-SHA256(key, concatenated parts). */
export function hmacSHA256(key, ...parts) {
  let k = key.length > 64 ? sha256(key) : key;
  const ipad = new Uint8Array(64);
  const opad = new Uint8Array(64);
  ipad.set(k); opad.set(k);
  for (let i = 0; i < 64; i++) { ipad[i] ^= 0x36; opad[i] ^= 0x5c; }
  k = null;
  return sha256(opad, sha256(ipad, ...parts));
}

// ---------------------------------------------------------------------------
// Digest layout

/** digestOffset returns where the 32-byte digest sits in a block for a scheme. */
export function digestOffset(block, scheme) {
  if (scheme === SCHEME2) return (block[772] + block[773] + block[774] + block[775]) % 728 + 776;
  return (block[8] + block[9] + block[10] + block[11]) % 728 + 12;
}

function blockDigest(block, off, key) {
  return hmacSHA256(key, block.subarray(0, off), block.subarray(off + 32));
}

/** imprint signs block in place with the scheme's layout and returns the digest. */
export function imprint(block, scheme, key) {
  const off = digestOffset(block, scheme);
  block.set(blockDigest(block, off, key), off);
  return block.subarray(off, off + 32);
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let x = 0;
  for (let i = 0; i < a.length; i++) x |= a[i] ^ b[i];
  return x === 0;
}

/** findDigest returns [scheme, digest] of the first layout whose digest is valid, or [0, null]. */
export function findDigest(block, key, ...schemes) {
  for (const s of schemes) {
    const off = digestOffset(block, s);
    if (equal(blockDigest(block, off, key), block.subarray(off, off + 32))) return [s, block.subarray(off, off + 32)];
  }
  return [0, null];
}

/** secondBlockKey derives the key signing C2 or S2: HMAC-SHA256(fullKey, peer's digest). */
export function secondBlockKey(fullKey, peerDigest) {
  return hmacSHA256(fullKey, peerDigest);
}

/** signSecond fills the last 32 bytes of block with the signature of the rest. */
export function signSecond(block, key) {
  block.set(hmacSHA256(key, block.subarray(0, BLOCK_SIZE - 32)), BLOCK_SIZE - 32);
}

/** checkSecond reports whether the last 32 bytes of block sign the rest under key. */
export function checkSecond(block, key) {
  return equal(hmacSHA256(key, block.subarray(0, BLOCK_SIZE - 32)), block.subarray(BLOCK_SIZE - 32));
}

function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, Math.min(n, off + 65536)));
  return b;
}

// ---------------------------------------------------------------------------
// Client

/**
 * ClientHandshake runs the client side. start() returns C0+C1; feed the
 * server's bytes to push(), which returns null until S0+S1+S2 are in, then
 * {c2, rest, info}: C2 to send, and the bytes after S2 (chunk stream data
 * that arrived with it).
 *
 * options.digest (default true) signs C1 (ffmpeg's way); options.random
 * supplies random bytes (tests); options.epoch is C1's time field.
 */
export class ClientHandshake {
  constructor({ digest = true, random = randomBytes, epoch = 0 } = {}) {
    this.digest = digest;
    this.random = random;
    this.epoch = epoch;
    this.buf = new Uint8Array(0);
    this.c1 = null;
    this.c1Digest = null;
  }

  start() {
    const out = new Uint8Array(1 + BLOCK_SIZE);
    out[0] = VERSION;
    const c1 = out.subarray(1);
    c1.set(this.random(BLOCK_SIZE - 8), 8);
    const dv = new DataView(out.buffer, 1);
    dv.setUint32(0, this.epoch >>> 0);
    if (this.digest) {
      dv.setUint32(4, CLIENT_VERSION);
      this.c1Digest = imprint(c1, SCHEME1, PLAYER_KEY.subarray(0, 30)).slice();
    }
    this.c1 = c1.slice();
    return out;
  }

  push(bytes) {
    const nb = new Uint8Array(this.buf.length + bytes.length);
    nb.set(this.buf);
    nb.set(bytes, this.buf.length);
    this.buf = nb;
    if (this.buf.length >= 1) checkVersion(this.buf[0]);
    if (this.buf.length < 1 + 2 * BLOCK_SIZE) return null;
    const s1 = this.buf.subarray(1, 1 + BLOCK_SIZE);
    const s2 = this.buf.subarray(1 + BLOCK_SIZE, 1 + 2 * BLOCK_SIZE);
    const rest = this.buf.slice(1 + 2 * BLOCK_SIZE);
    const info = { digest: false, scheme: 0, peerVersion: u32(s1, 4), peerEpoch: u32(s1, 0) };
    let c2;
    if (this.digest && s1[4] >= 3) {
      // A signing server (version byte 3 or more): check S1 and S2 as
      // ffmpeg does, then sign C2 with S1's digest.
      const [scheme, s1Digest] = findDigest(s1, SERVER_KEY.subarray(0, 36), SCHEME1, SCHEME2);
      if (scheme === 0) throw new HandshakeError('bad digest in S1');
      if (!checkSecond(s2, secondBlockKey(SERVER_KEY, this.c1Digest))) throw new HandshakeError('bad signature in S2');
      c2 = this.random(BLOCK_SIZE);
      signSecond(c2, secondBlockKey(PLAYER_KEY, s1Digest));
      Object.assign(info, { digest: true, scheme });
    } else {
      c2 = s1.slice(); // the simple form: C2 echoes S1
    }
    return { c2, rest, info };
  }
}

function u32(b, off) {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function checkVersion(v) {
  if (v === VERSION) return;
  if (v === 6 || v === 8 || v === 9) throw new HandshakeError(`S0 = ${v}: RTMPE (encrypted RTMP) is not supported`);
  throw new HandshakeError(`S0 = ${v}, not RTMP`);
}
