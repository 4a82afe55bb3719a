// The digest vectors of docs/rtmp.md#handshake-test-vectors, the same as
// rtmp/handshake/handshake_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  sha256, hmacSHA256, digestOffset, imprint, findDigest, secondBlockKey, signSecond, checkSecond,
  ClientHandshake, HandshakeError, PLAYER_KEY, SERVER_KEY, SCHEME1, SCHEME2, BLOCK_SIZE,
} from '../handshake.js';
import { hex, toHex, concat } from './hex.js';

const h = (b) => toHex(b).replace(/ /g, '');

function vectorBlock(seed, version) {
  const b = new Uint8Array(BLOCK_SIZE);
  new DataView(b.buffer).setUint32(4, version);
  for (let i = 8; i < BLOCK_SIZE; i++) b[i] = (i * seed + 3) & 0xff;
  return b;
}

test('SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 4231 case 2)', () => {
  assert.equal(h(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(h(sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(h(sha256(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  assert.equal(h(sha256(new Uint8Array(1000).fill(0x61))), '41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3');
  const te = new TextEncoder();
  assert.equal(h(hmacSHA256(te.encode('Jefe'), te.encode('what do ya want for nothing?'))),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
});

test('digest vectors', () => {
  for (const [name, seed, version, scheme, key, bytesAt, sumHex, offset, digest] of [
    ['scheme 1', 7, 0x09007c02, SCHEME1, PLAYER_KEY.subarray(0, 30), 8, '3b424950', 290,
      '612af37c38c4a1b74e5737fc4021ded17ed92a9431c19bc665cf421131bad8a6'],
    ['scheme 2', 7, 0x09007c02, SCHEME2, PLAYER_KEY.subarray(0, 30), 772, '1f262d34', 942,
      'e6a7fbdda4aab503b4e693e92d6f18d9d4b89f3ef0e95fffe767a4830aa37109'],
    ['S1 scheme 1', 13, 0x03050101, SCHEME1, SERVER_KEY.subarray(0, 36), 8, '6b788592', 518,
      '5a2b6d7df2864cd7b7e7e33faf4b28c1429e11ec8e70beb146f5f1517fdfffa1'],
  ]) {
    const b = vectorBlock(seed, version);
    assert.equal(h(b.subarray(bytesAt, bytesAt + 4)), sumHex, name);
    assert.equal(digestOffset(b, scheme), offset, name);
    const d = imprint(b, scheme, key);
    assert.equal(h(d), digest, name);
    assert.equal(h(b.subarray(offset, offset + 32)), digest, name);
    const [s, found] = findDigest(b, key, SCHEME1, SCHEME2);
    assert.equal(s, scheme, name);
    assert.equal(h(found), digest, name);
    b[offset - 1] ^= 1;
    assert.equal(findDigest(b, key, SCHEME1, SCHEME2)[0], 0, `${name}: tampered block still validates`);
  }
});

test('second block vectors', () => {
  assert.equal(PLAYER_KEY.length, 62);
  assert.equal(SERVER_KEY.length, 68);
  const c1 = vectorBlock(7, 0x09007c02);
  const c1Digest = imprint(c1, SCHEME1, PLAYER_KEY.subarray(0, 30));
  const s1 = vectorBlock(13, 0x03050101);
  const s1Digest = imprint(s1, SCHEME1, SERVER_KEY.subarray(0, 36));
  for (const [name, fullKey, peerDigest, mul, add, key, sig] of [
    ['S2', SERVER_KEY, c1Digest, 11, 5, 'b64b9cb0ff0d9abe14b38c4638d3af7b13e7e857b3c2af49eb5449fde909256e',
      'a7566e792d45a287ba3e2f5b3c244eb003ba642ae98e998eaf2af830ca06c0be'],
    ['C2', PLAYER_KEY, s1Digest, 17, 1, '107c9ea70752f80efa624548f4582d666fed73d79314d8e0c6e6c75c5192bcdd',
      '46a6e99821a27de853b0018a10611cd1da195cece4273a7a7c25c7856c24d89a'],
  ]) {
    const k = secondBlockKey(fullKey, peerDigest);
    assert.equal(h(k), key, name);
    const b = new Uint8Array(BLOCK_SIZE);
    for (let i = 0; i < BLOCK_SIZE - 32; i++) b[i] = (i * mul + add) & 0xff;
    signSecond(b, k);
    assert.equal(h(b.subarray(BLOCK_SIZE - 32)), sig, name);
    assert.ok(checkSecond(b, k));
    b[0] ^= 0x80;
    assert.ok(!checkSecond(b, k));
  }
});

// serverAnswer builds S0+S1+S2 as the server does (rtmp/handshake.Server).
function serverAnswer(c0c1, { sign = true, corrupt = '' } = {}) {
  const c1 = c0c1.subarray(1);
  const s1 = vectorBlock(13, 0);
  const s2 = new Uint8Array(BLOCK_SIZE);
  const [scheme, c1Digest] = findDigest(c1, PLAYER_KEY.subarray(0, 30), SCHEME1, SCHEME2);
  if (sign && scheme) {
    new DataView(s1.buffer).setUint32(4, 0x03050101);
    imprint(s1, scheme, SERVER_KEY.subarray(0, 36));
    for (let i = 0; i < BLOCK_SIZE - 32; i++) s2[i] = i & 0xff;
    signSecond(s2, secondBlockKey(SERVER_KEY, c1Digest));
  } else {
    s2.set(c1);
  }
  if (corrupt === 's1') s1[100] ^= 1;
  if (corrupt === 's2') s2[100] ^= 1;
  return concat(new Uint8Array([3]), s1, s2);
}

const fixedRandom = (n) => new Uint8Array(n).map((_, i) => (i * 31 + 7) & 0xff);

test('a signing client against a signing server, bytes split anywhere', () => {
  for (const step of [1, 700, 3073, 5000]) {
    const hs = new ClientHandshake({ random: fixedRandom });
    const c0c1 = hs.start();
    assert.equal(c0c1.length, 1537);
    assert.equal(c0c1[0], 3);
    assert.equal(toHex(c0c1.subarray(5, 9)), '09 00 7c 02');
    const answer = concat(serverAnswer(c0c1), hex('02 00 00'));
    let res = null;
    for (let i = 0; i < answer.length && !res; i += step) res = hs.push(answer.subarray(i, i + step));
    assert.ok(res, `step ${step}`);
    assert.equal(res.info.digest, true);
    assert.equal(res.info.scheme, SCHEME1);
    // The server reads C2 with the key derived from S1's digest.
    const s1 = answer.subarray(1, 1537);
    const [, s1Digest] = findDigest(s1, SERVER_KEY.subarray(0, 36), SCHEME1);
    assert.ok(checkSecond(res.c2, secondBlockKey(PLAYER_KEY, s1Digest)), 'C2 signature');
    if (step < answer.length) continue;
    assert.equal(toHex(res.rest), '02 00 00', 'bytes after S2 are kept for the chunk reader');
  }
});

test('a simple client or a simple server: C2 echoes S1', () => {
  for (const digest of [false, true]) {
    const hs = new ClientHandshake({ digest, random: fixedRandom });
    const c0c1 = hs.start();
    if (!digest) assert.equal(toHex(c0c1.subarray(5, 9)), '00 00 00 00');
    const answer = serverAnswer(c0c1, { sign: false });
    const res = hs.push(answer);
    assert.equal(res.info.digest, false);
    assert.equal(toHex(res.c2), toHex(answer.subarray(1, 1537)));
  }
});

test('a bad server signature or version fails', () => {
  for (const corrupt of ['s1', 's2']) {
    const hs = new ClientHandshake();
    const answer = serverAnswer(hs.start(), { corrupt });
    assert.throws(() => hs.push(answer), HandshakeError, corrupt);
  }
  assert.throws(() => new ClientHandshake().push(new Uint8Array([6])), /RTMPE/);
  assert.throws(() => new ClientHandshake().push(new TextEncoder().encode('HTTP/1.1 400')), /not RTMP/);
});
