// The chunk stream vectors of docs/rtmp.md#header-examples and the cases
// of rtmp/chunk/reader_test.go and writer_test.go, same hex.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkReader, ChunkWriter, ChunkError } from '../chunk.js';
import { hex, toHex, seq, concat } from './hex.js';

// readAll feeds wire to a fresh reader, whole or split into pieces of size step.
function readAll(wire, { step = 0, limits } = {}) {
  const r = new ChunkReader(limits);
  const msgs = [];
  if (step === 0) {
    msgs.push(...r.push(wire));
  } else {
    for (let i = 0; i < wire.length; i += step) msgs.push(...r.push(wire.subarray(i, i + step)));
  }
  return { msgs, r };
}

function specExamples() {
  const video = seq(300);
  const videoWire = concat(hex('06 ff ff ff 00 01 2c 09 01 00 00 00 01 00 00 00'), video.subarray(0, 128),
    hex('c6 01 00 00 00'), video.subarray(128, 256), hex('c6 01 00 00 00'), video.subarray(256));
  return [
    ['Set Chunk Size 4096', { csid: 2, type: 1 }, hex('00 00 10 00'), hex('02 00 00 00 00 00 04 01 00 00 00 00 00 00 10 00')],
    ['Window Ack Size 2500000', { csid: 2, type: 5 }, hex('00 26 25 a0'), hex('02 00 00 00 00 00 04 05 00 00 00 00 00 26 25 a0')],
    ['Set Peer Bandwidth dynamic', { csid: 2, type: 6 }, hex('00 26 25 a0 02'), hex('02 00 00 00 00 00 05 06 00 00 00 00 00 26 25 a0 02')],
    ['Acknowledgement 123456', { csid: 2, type: 3 }, hex('00 01 e2 40'), hex('02 00 00 00 00 00 04 03 00 00 00 00 00 01 e2 40')],
    ['StreamBegin 1', { csid: 2, type: 4 }, hex('00 00 00 00 00 01'), hex('02 00 00 00 00 00 06 04 00 00 00 00 00 00 00 00 00 01')],
    ['PingRequest 1000', { csid: 2, type: 4 }, hex('00 06 00 00 03 e8'), hex('02 00 00 00 00 00 06 04 00 00 00 00 00 06 00 00 03 e8')],
    ['_result createStream', { csid: 3, type: 20 },
      hex('02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00'),
      hex('03 00 00 00 00 00 1d 14 00 00 00 00 02 00 07 5f 72 65 73 75 6c 74 00 40 00 00 00 00 00 00 00 05 00 3f f0 00 00 00 00 00 00')],
    ['video extended ts 3 chunks', { csid: 6, timestamp: 0x01000000, type: 9, streamId: 1 }, video, videoWire],
  ];
}

for (const [name, h, p, wire] of specExamples()) {
  test(`docs/rtmp.md#header-examples ${name}`, () => {
    assert.equal(toHex(new ChunkWriter().encode(h, p)), toHex(wire));
    for (const step of [0, 1, 7]) {
      const { msgs, r } = readAll(wire, { step });
      assert.equal(msgs.length, 1);
      const m = msgs[0];
      assert.deepEqual([m.csid, m.timestamp, m.length, m.type, m.streamId], [h.csid, h.timestamp ?? 0, p.length, h.type, h.streamId ?? 0]);
      assert.equal(toHex(m.payload), toHex(p));
      assert.equal(r.bytesRead, wire.length);
      if (h.type === 1) assert.equal(r.chunkSize, 4096);
    }
  });
}

test('csid encodings', () => {
  for (const [csid, basic] of [[2, '02'], [3, '03'], [63, '3f'], [64, '00 00'], [65, '00 01'], [319, '00 ff'],
    [320, '01 00 01'], [365, '01 2d 01'], [65599, '01 ff ff']]) {
    const wire = new ChunkWriter().encode({ csid, type: 8, streamId: 1 }, new Uint8Array([0xaf, 1]));
    const b = hex(basic);
    assert.equal(toHex(wire.subarray(0, b.length)), basic, `csid ${csid}`);
    assert.equal(wire.length, b.length + 11 + 2);
    const { msgs } = readAll(wire, { step: 1 });
    assert.equal(msgs[0].csid, csid);
  }
});

test('csids 64..319 in the 3-byte form name the same chunk stream', () => {
  for (const csid of [64, 100, 319]) {
    const v = csid - 64;
    const wire = concat(new Uint8Array([0x00, v]), hex('00 00 05 00 00 01 08 01 00 00 00 aa'),
      new Uint8Array([0x80 | 1, v & 0xff, v >> 8]), hex('00 00 0a bb'));
    const { msgs } = readAll(wire);
    assert.equal(msgs.length, 2);
    assert.deepEqual([msgs[1].csid, msgs[1].timestamp, msgs[1].length, msgs[1].type, msgs[1].streamId, msgs[1].payload[0]], [csid, 15, 1, 8, 1, 0xbb]);
  }
});

test('extended timestamps', () => {
  for (const [name, prev, ts, wantFmt, wantExt] of [
    ['fmt0 0xFFFFFE fits', [], 0xFFFFFE, 0, false],
    ['fmt0 0xFFFFFF itself is extended', [], 0xFFFFFF, 0, true],
    ['fmt0 2^24', [], 0x01000000, 0, true],
    ['fmt0 max', [], 0xFFFFFFFF, 0, true],
    ['fmt2 delta 0xFFFFFE fits', [1], 0xFFFFFF, 2, false],
    ['fmt2 delta 0xFFFFFF extended', [1], 0x01000000, 2, true],
    ['fmt2 small delta after extended fmt0', [0x01000000], 0x01000028, 2, false],
  ]) {
    for (const cs of [128, 50]) {
      const w = new ChunkWriter();
      const parts = [w.encode({ csid: 2, type: 1 }, new Uint8Array([0, 0, 0, cs]))];
      w.setChunkSize(cs);
      for (const p of prev) parts.push(w.encode({ csid: 6, timestamp: p, type: 9, streamId: 1 }, seq(120)));
      const last = w.encode({ csid: 6, timestamp: ts, type: 9, streamId: 1 }, seq(120));
      parts.push(last);
      assert.equal(last[0] >> 6, wantFmt, `${name} cs ${cs}: fmt`);
      let hl = 1 + [11, 7, 3, 0][wantFmt];
      const ext = last[1] === 0xff && last[2] === 0xff && last[3] === 0xff;
      assert.equal(ext, wantExt, `${name} cs ${cs}: extended`);
      let cont = 1;
      if (ext) { hl += 4; cont += 4; }
      assert.equal(last.length, hl + 120 + Math.floor((120 - 1) / cs) * cont, `${name} cs ${cs}: length`);
      const { msgs } = readAll(concat(...parts), { step: 1 });
      const got = msgs[msgs.length - 1];
      assert.equal(got.timestamp, ts, `${name} cs ${cs}: ts`);
      assert.equal(toHex(got.payload), toHex(seq(120)));
    }
  }
});

test('fmt 3 continuations with and without the repeated extended timestamp', () => {
  const p = seq(300);
  const head = hex('06 ff ff ff 00 01 2c 09 01 00 00 00 01 00 00 00');
  const build = (withExt, first) => {
    const q = p.slice();
    q[128] = first; q[256] = first;
    const parts = [head, q.subarray(0, 128)];
    for (const part of [q.subarray(128, 256), q.subarray(256)]) {
      parts.push(new Uint8Array([0xc6]));
      if (withExt) parts.push(new Uint8Array([1, 0, 0, 0]));
      parts.push(part);
    }
    return concat(...parts);
  };
  for (const [name, wire, first] of [
    ['strict (Flash Player, ffmpeg, SRS)', build(true, 128), 128],
    ['draft 2009 without repeats', build(false, 128), 128],
    ['draft, payload starts like the ext value but differs', build(false, 1), 1],
  ]) {
    for (const step of [0, 1]) {
      const { msgs, r } = readAll(wire, { step });
      assert.equal(msgs.length, 1, name);
      const want = p.slice();
      want[128] = first; want[256] = first;
      assert.equal(msgs[0].timestamp, 0x01000000, name);
      assert.equal(toHex(msgs[0].payload), toHex(want), name);
      assert.equal(r.bytesRead, wire.length, name);
    }
  }
  const wire = hex('06 ff ff ff 00 00 02 09 01 00 00 00 01 00 00 00 aa bb  c6 01 00 00 00 cc dd');
  const { msgs } = readAll(wire);
  assert.equal(msgs[1].timestamp, 0x02000000, 'fmt3 new message reads the extended field');
  assert.equal(toHex(msgs[1].payload), 'cc dd');
});

test('timestamp arithmetic', () => {
  for (const [name, wire, want] of [
    ['fmt0 then fmt3 new message adds the fmt0 value', '04 00 03 e8 00 00 01 08 01 00 00 00 aa  c4 bb', [1000, 2000]],
    ['fmt1 and fmt2 deltas, fmt3 repeats the last delta',
      '04 00 00 64 00 00 01 08 01 00 00 00 aa  44 00 00 28 00 00 01 08 bb  84 00 00 14 cc  c4 dd  c4 ee', [100, 140, 160, 180, 200]],
    ['wrap at 2^32', '04 ff ff ff 00 00 01 08 01 00 00 00 ff ff ff f0 aa  84 00 00 20 bb', [0xfffffff0, 0x10]],
    ['fmt0 going backwards', '04 00 01 00 00 00 01 08 01 00 00 00 aa  04 00 00 10 00 00 01 08 01 00 00 00 bb', [256, 16]],
    ['fmt1 on a fresh csid starts from 0, msid 0', '45 00 00 07 00 00 01 12 aa', [7]],
  ]) {
    const { msgs } = readAll(hex(wire), { step: 1 });
    assert.deepEqual(msgs.map((m) => m.timestamp), want, name);
  }
});

test('chunk size changes apply to the following chunks', () => {
  const w = new ChunkWriter();
  const big = seq(10000);
  const parts = [];
  parts.push(w.encode({ csid: 6, type: 9, streamId: 1 }, big.subarray(0, 500)));
  parts.push(w.encode({ csid: 2, type: 1 }, new Uint8Array([0, 0, 0x10, 0])));
  w.setChunkSize(4096);
  parts.push(w.encode({ csid: 6, timestamp: 40, type: 9, streamId: 1 }, big));
  parts.push(w.encode({ csid: 2, type: 1 }, new Uint8Array([0, 0, 0, 1])));
  w.setChunkSize(1);
  parts.push(w.encode({ csid: 6, timestamp: 80, type: 9, streamId: 1 }, big.subarray(0, 300)));
  const wire = concat(...parts);
  assert.equal(wire.length, (12 + 500 + 3) + 16 + (8 + 10000 + 2) + 8 + (8 + 300 + 299));
  const { msgs, r } = readAll(wire, { step: 13 });
  assert.equal(msgs.length, 5);
  assert.equal(toHex(msgs[2].payload), toHex(big));
  assert.equal(toHex(msgs[4].payload), toHex(big.subarray(0, 300)));
  assert.equal(r.chunkSize, 1);
});

test('abort drops the partial message', () => {
  let wire = concat(hex('04 00 00 00 00 01 2c 08 01 00 00 00'), seq(128),
    hex('02 00 00 00 00 00 04 02 00 00 00 00 00 00 00 04'), hex('04 00 00 05 00 00 02 08 01 00 00 00 aa bb'));
  let { msgs, r } = readAll(wire);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0].type, 2);
  assert.equal(msgs[1].length, 2);
  assert.equal(r.pending, 0);
  wire = concat(wire.subarray(0, wire.length - 14), hex('c4'), seq(128), hex('c4'), seq(128), hex('c4'), seq(44));
  ({ msgs } = readAll(wire));
  assert.equal(msgs.length, 2);
  assert.equal(msgs[1].length, 300);
});

test('interleaved chunk streams', () => {
  const audio = seq(200);
  const video = seq(300).map((x) => x ^ 0x55);
  const wire = concat(hex('06 00 00 28 00 01 2c 09 01 00 00 00'), video.subarray(0, 128),
    hex('04 00 00 2a 00 00 c8 08 01 00 00 00'), audio.subarray(0, 128), hex('c6'), video.subarray(128, 256),
    hex('c4'), audio.subarray(128), hex('c6'), video.subarray(256));
  const { msgs } = readAll(wire, { step: 1 });
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0].csid, 4);
  assert.equal(toHex(msgs[0].payload), toHex(audio));
  assert.equal(msgs[1].csid, 6);
  assert.equal(toHex(msgs[1].payload), toHex(video));
});

test('a new header abandons a partial message', () => {
  for (const next of ['06 00 00 10 00 00 02 09 01 00 00 00 aa bb', '46 00 00 10 00 00 02 09 aa bb']) {
    const { msgs, r } = readAll(concat(hex('06 00 00 00 00 01 2c 09 01 00 00 00'), seq(128), hex(next)));
    assert.equal(msgs.length, 1);
    assert.equal(toHex(msgs[0].payload), 'aa bb');
    assert.equal(r.pending, 0);
  }
  const { msgs } = readAll(concat(hex('06 00 00 00 00 01 2c 09 01 00 00 00'), seq(128), hex('86 00 00 10'), seq(128),
    hex('c6'), seq(128), hex('c6'), seq(44)));
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].timestamp, 16);
  assert.equal(msgs[0].length, 300);
});

test('writer header choice', () => {
  for (const [name, steps] of [
    ['first message fmt0, same type+length fmt2, new length fmt1', [
      [{ csid: 4, timestamp: 0, type: 8, streamId: 1 }, 10, 0], [{ csid: 4, timestamp: 23, type: 8, streamId: 1 }, 10, 2],
      [{ csid: 4, timestamp: 46, type: 8, streamId: 1 }, 11, 1], [{ csid: 4, timestamp: 46, type: 18, streamId: 1 }, 11, 1]]],
    ['msid change forces fmt0', [[{ csid: 3, type: 20 }, 10, 0], [{ csid: 3, type: 20, streamId: 1 }, 10, 0]]],
    ['time going backwards forces fmt0', [[{ csid: 6, timestamp: 1000, type: 9, streamId: 1 }, 10, 0],
      [{ csid: 6, timestamp: 999, type: 9, streamId: 1 }, 10, 0], [{ csid: 6, timestamp: 1040, type: 9, streamId: 1 }, 10, 2]]],
    ['jump of 2^31 or more is treated as backwards', [[{ csid: 6, timestamp: 0, type: 9, streamId: 1 }, 10, 0],
      [{ csid: 6, timestamp: 0x80000000, type: 9, streamId: 1 }, 10, 0]]],
    ['wrap forward keeps deltas', [[{ csid: 6, timestamp: 0xfffffff0, type: 9, streamId: 1 }, 10, 0],
      [{ csid: 6, timestamp: 0x10, type: 9, streamId: 1 }, 10, 2]]],
    ['csids are independent', [[{ csid: 4, type: 8, streamId: 1 }, 10, 0], [{ csid: 6, type: 9, streamId: 1 }, 10, 0],
      [{ csid: 4, timestamp: 5, type: 8, streamId: 1 }, 10, 2]]],
  ]) {
    const w = new ChunkWriter();
    const parts = [];
    for (const [h, n, wantFmt] of steps) {
      const b = w.encode(h, seq(n));
      assert.equal(b[0] >> 6, wantFmt, name);
      parts.push(b);
    }
    const { msgs } = readAll(concat(...parts));
    assert.deepEqual(msgs.map((m) => [m.csid, m.timestamp, m.type, m.streamId, m.length]),
      steps.map(([h, n]) => [h.csid, h.timestamp ?? 0, h.type, h.streamId ?? 0, n]), name);
  }
});

test('limits', () => {
  const fails = (wire, code, limits) => {
    const r = new ChunkReader(limits);
    assert.throws(() => r.push(wire), (err) => err instanceof ChunkError && err.code === code);
    assert.throws(() => r.push(new Uint8Array(1)), ChunkError, 'a failed reader stays failed');
  };
  fails(hex('02 00 00 00 00 00 04 01 00 00 00 00 7f ff ff ff'), 'chunk-size');
  fails(hex('02 00 00 00 00 00 04 01 00 00 00 00 00 00 00 00'), 'chunk-size');
  fails(hex('04 00 00 00 ff ff ff 09 01 00 00 00'), 'message-too-large', { maxMessageSize: 1 << 20 });
  fails(hex('84 00 00 00'), 'no-previous-header');
  const many = [];
  for (let i = 0; i < 5; i++) many.push(new Uint8Array([0x40 | (3 + i), 0, 0, 0, 0, 0, 1, 8, 0xaa]));
  fails(concat(...many), 'too-many-csids', { maxCSIDs: 4 });
  fails(concat(hex('04 00 00 00 00 08 00 09 01 00 00 00'), seq(128), hex('05 00 00 00 00 08 00 09 01 00 00 00')), 'pending-bytes', { maxPendingBytes: 3000, maxCSIDs: 8 });
});

test('a random stream split at every byte reads the same', () => {
  const w = new ChunkWriter();
  const parts = [];
  const want = [];
  let ts = 0;
  for (let i = 0; i < 40; i++) {
    const csid = [3, 4, 6, 70, 400][i % 5];
    const n = (i * 97) % 700;
    const p = seq(n).map((x) => x ^ i);
    ts += (i * 13) % 50;
    if (i === 20) { parts.push(w.encode({ csid: 2, type: 1 }, new Uint8Array([0, 0, 0, 60]))); w.setChunkSize(60); want.push(null); }
    parts.push(w.encode({ csid, timestamp: ts, type: 8 + (i % 2), streamId: 1 }, p));
    want.push([csid, ts, p]);
  }
  const wire = concat(...parts);
  for (const step of [1, 2, 3, 5, 64, 1000]) {
    const { msgs } = readAll(wire, { step });
    const got = msgs.filter((m) => m.type !== 1);
    assert.equal(got.length, 40);
    want.filter(Boolean).forEach(([csid, t, p], i) => {
      assert.equal(got[i].csid, csid);
      assert.equal(got[i].timestamp, t);
      assert.equal(toHex(got[i].payload), toHex(p));
    });
  }
});
