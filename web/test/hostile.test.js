// Hostile input: the parsers of the browser library take bytes from the
// network. Mutated and random inputs must fail with the library's own
// errors (never a TypeError, a RangeError from a typed array, a hang or a
// giant allocation), the way the Go side's fuzz targets check the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decoder, AMFError, encodeAMF0, encodeAMF3, typed, ecma } from '../amf.js';
import { ChunkReader, ChunkWriter, ChunkError } from '../chunk.js';
import { parseSOMessage, encodeSOMessage, SOError, SOEvent } from '../sharedobject.js';
import { parseVideo, parseAudio, UnsupportedCodec } from '../flv.js';

// rng is a deterministic xorshift generator, so a failure reproduces.
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function mutate(r, b) {
  const m = b.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n && m.length > 0; i++) {
    const at = Math.floor(r() * m.length);
    switch (Math.floor(r() * 3)) {
      case 0: m[at] = Math.floor(r() * 256); break;
      case 1: m[at] = [0x00, 0xff, 0x7f, 0x80, 0x11, 0x09][Math.floor(r() * 6)]; break;
      default: return m.subarray(0, at);
    }
  }
  return m;
}

function expectOnly(f, ...allowed) {
  try {
    f();
  } catch (err) {
    if (!allowed.some((c) => err instanceof c)) throw new Error(`unexpected ${err?.name}: ${err?.message}`, { cause: err });
  }
}

const amfSeeds = [
  encodeAMF0(['connect', 1, { app: 'live', tcUrl: 'rtmp://x/live', caps: [1, 2, { a: null }] }, typed('P', { x: 1 }), ecma({ d: 1 }), new Date(0)]),
  encodeAMF0([new Uint8Array([1, 2]), new Map([['k', [1, 'a']]])]),
  encodeAMF3({ a: [1, 'two', { three: 3.5 }], b: new Uint8Array(3), c: 'two' }),
];

test('mutated AMF bodies fail with AMFError only', () => {
  const r = rng(1);
  for (let i = 0; i < 20000; i++) {
    const seed = amfSeeds[i % amfSeeds.length];
    const b = mutate(r, seed);
    expectOnly(() => {
      const d = new Decoder(b);
      if (i % amfSeeds.length === 2) d.amf3(); else while (d.remaining > 0) d.amf0();
    }, AMFError);
  }
});

test('random bytes as AMF fail with AMFError only', () => {
  const r = rng(2);
  for (let i = 0; i < 20000; i++) {
    const b = Uint8Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * 256));
    expectOnly(() => new Decoder(b).amf0(), AMFError);
    expectOnly(() => new Decoder(b).amf3(), AMFError);
  }
});

test('mutated chunk streams fail with ChunkError only and never hold more than they must', () => {
  const w = new ChunkWriter();
  const parts = [];
  for (let i = 0; i < 6; i++) parts.push(w.encode({ csid: 3 + (i % 3), timestamp: i * 40, type: 8 + (i % 2), streamId: 1 }, new Uint8Array(100 + i * 90).fill(i)));
  const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { wire.set(p, off); off += p.length; }
  const r = rng(3);
  for (let i = 0; i < 5000; i++) {
    const b = mutate(r, wire);
    const cr = new ChunkReader({ maxMessageSize: 1 << 16, maxPendingBytes: 1 << 17 });
    expectOnly(() => {
      for (let at = 0; at < b.length; at += 1 + Math.floor(r() * 50)) cr.push(b.subarray(at, at + 1 + Math.floor(r() * 50)));
    }, ChunkError);
    assert.ok(cr.pending <= 1 << 17, `pending ${cr.pending}`);
  }
});

test('mutated shared-object messages fail with SOError only', () => {
  const seeds = [
    encodeSOMessage({ name: 'chat', version: 3, events: [{ type: SOEvent.change, key: 'k', value: { a: [1, 2] } }, { type: SOEvent.success, key: 'k' },
      { type: SOEvent.sendMessage, key: 'newLine', args: ['hi', 2] }, { type: SOEvent.status, key: 'SharedObject.NoWriteAccess', level: 'error' }] }),
    encodeSOMessage({ name: 'board', version: 9, flags: 2, events: [{ type: SOEvent.useSuccess }, { type: SOEvent.clear }, { type: SOEvent.remove, key: 's1' }] }, true),
  ];
  const r = rng(4);
  for (let i = 0; i < 20000; i++) {
    const amf3 = i % 2 === 1;
    expectOnly(() => parseSOMessage(mutate(r, seeds[i % 2]), amf3), SOError);
  }
});

test('mutated FLV bodies fail with Error, never a TypeError', () => {
  const seeds = [
    new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xef]),
    new Uint8Array([0x27, 1, 0, 0, 0x50, 0, 0, 0, 2, 0x41, 0x9a]),
    new Uint8Array([0x90, 0x68, 0x76, 0x63, 0x31, 1, 1, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 0x5d]),
    new Uint8Array([0x96, 0x00, 0x61, 0x76, 0x63, 0x31, 0x00, 0x00, 0x00, 0x00]),
    new Uint8Array([0xaf, 0, 0x12, 0x10]),
    new Uint8Array([0x90, 0x4f, 0x70, 0x75, 0x73, 0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 1, 2]),
    new Uint8Array([0x97, 0x00, 0xaa, 0x11, 0x4f, 0x70, 0x75, 0x73, 0xfc]),
  ];
  const r = rng(5);
  for (let i = 0; i < 30000; i++) {
    const b = mutate(r, seeds[i % seeds.length]);
    expectOnly(() => parseVideo(b), UnsupportedCodec, Error);
    expectOnly(() => parseAudio(b), UnsupportedCodec, Error);
    try { parseVideo(b); parseAudio(b); } catch (err) {
      assert.ok(!(err instanceof TypeError) && !(err instanceof RangeError), `${err.name}: ${err.message} for ${Array.from(b)}`);
    }
  }
});
