// The vectors of docs/amf.md#test-vectors, the same hex as amf/vectors_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Encoder, Encoder3, ByteWriter, Decoder, decodeAMF0, decodeAMF3, encodeAMF0, encodeAMF3,
  typed, ecma, withTraits, Traits, Vector, Dictionary, XML, XMLDocument, unsupported,
  AMFError, ErrorCode, ARRAY_COLLECTION, amfClass,
} from '../amf.js';
import { hex, toHex } from './hex.js';

const point = (x, y) => typed('Point', { x, y });

function amf0Vectors() {
  const o = {};
  return [
    { name: 'A1 number 0', v: 0, hex: '00 00 00 00 00 00 00 00 00' },
    { name: 'A2 number 1', v: 1, hex: '00 3f f0 00 00 00 00 00 00' },
    { name: 'A3 number -2.5', v: -2.5, hex: '00 c0 04 00 00 00 00 00 00' },
    { name: 'A4 NaN canonical', v: NaN, hex: '00 7f f8 00 00 00 00 00 00' },
    { name: 'A5 true', v: true, hex: '01 01' },
    { name: 'A5 false', v: false, hex: '01 00' },
    { name: 'A6 string app', v: 'app', hex: '02 00 03 61 70 70' },
    { name: 'A7 empty string', v: '', hex: '02 00 00' },
    { name: 'A8 string hé', v: 'hé', hex: '02 00 03 68 c3 a9' },
    { name: 'A9 object', v: { a: 1 }, hex: '03 00 01 61 00 3f f0 00 00 00 00 00 00 00 00 09' },
    { name: 'A10 nested', v: { name: 'x', inner: { n: 1 } },
      hex: '03 00 04 6e 61 6d 65 02 00 01 78 00 05 69 6e 6e 65 72 03 00 01 6e 00 3f f0 00 00 00 00 00 00 00 00 09 00 00 09' },
    { name: 'A11 null', v: null, hex: '05' },
    { name: 'A11 undefined', v: undefined, hex: '06' },
    { name: 'A12 strict array with shared object', v: [o, o], hex: '0a 00 00 00 02 03 00 00 09 07 00 01', opts: { shareRepeats: true } },
    { name: 'A13 ECMA array', v: ecma({ duration: 10.5, width: 320 }),
      hex: '08 00 00 00 02 00 08 64 75 72 61 74 69 6f 6e 00 40 25 00 00 00 00 00 00 00 05 77 69 64 74 68 00 40 74 00 00 00 00 00 00 00 00 09' },
    { name: 'A14 ECMA array count 0', v: ecma({ duration: 10.5 }), noEnc: true,
      hex: '08 00 00 00 00 00 08 64 75 72 61 74 69 6f 6e 00 40 25 00 00 00 00 00 00 00 00 09' },
    { name: 'A15 strict array', v: [1, 'a', true], hex: '0a 00 00 00 03 00 3f f0 00 00 00 00 00 00 02 00 01 61 01 01' },
    { name: 'A16 date', v: new Date(1136073600000), hex: '0b 42 70 88 34 36 c0 00 00 00 00' },
    { name: 'A17 long string', v: 'a'.repeat(70000), hex: '0c 00 01 11 70' + '61'.repeat(70000) },
    { name: 'A18 unsupported', v: unsupported, hex: '0d' },
    { name: 'A19 XML document', v: new XMLDocument('<a/>'), hex: '0f 00 00 00 04 3c 61 2f 3e' },
    { name: 'A20 typed object', v: point(1, 2),
      hex: '10 00 05 50 6f 69 6e 74 00 01 78 00 3f f0 00 00 00 00 00 00 00 01 79 00 40 00 00 00 00 00 00 00 00 00 09' },
    { name: 'A21 switch integer', v: 5, hex: '11 04 05', switchAll: true },
    { name: 'A22 switch string', v: 'hi', hex: '11 06 05 68 69', switchAll: true },
  ];
}

function amf3Vectors() {
  const pt = new Traits('Point', ['x', 'y']);
  const o = {};
  const self = [];
  self.push(self);
  return [
    { name: 'B1 undefined', v: undefined, hex: '00' },
    { name: 'B1 null', v: null, hex: '01' },
    { name: 'B1 false', v: false, hex: '02' },
    { name: 'B1 true', v: true, hex: '03' },
    { name: 'B2 integer 0', v: 0, hex: '04 00' },
    { name: 'B3 integer 127', v: 127, hex: '04 7f' },
    { name: 'B4 integer 128', v: 128, hex: '04 81 00' },
    { name: 'B5 integer 16383', v: 16383, hex: '04 ff 7f' },
    { name: 'B6 integer 16384', v: 16384, hex: '04 81 80 00' },
    { name: 'B7 integer 2097151', v: 2097151, hex: '04 ff ff 7f' },
    { name: 'B8 integer 2097152', v: 2097152, hex: '04 80 c0 80 00' },
    { name: 'B9 integer 2^28-1', v: 268435455, hex: '04 bf ff ff ff' },
    { name: 'B10 integer -1', v: -1, hex: '04 ff ff ff ff' },
    { name: 'B11 integer -2^28', v: -268435456, hex: '04 c0 80 80 00' },
    { name: 'B12 2^28 as double', v: 268435456, hex: '05 41 b0 00 00 00 00 00 00' },
    { name: 'B13 2^29-1 as double', v: 536870911, hex: '05 41 bf ff ff ff 00 00 00' },
    { name: 'B14 -2^28-1 as double', v: -268435457, hex: '05 c1 b0 00 00 01 00 00 00' },
    { name: 'B15 integer 70000', v: 70000, hex: '04 84 a2 70' },
    { name: 'B16 double 1.5', v: 1.5, hex: '05 3f f8 00 00 00 00 00 00' },
    { name: 'B16 double -0', v: -0, hex: '05 80 00 00 00 00 00 00 00' },
    { name: 'B17 string hi', v: 'hi', hex: '06 05 68 69' },
    { name: 'B17 empty string', v: '', hex: '06 01' },
    { name: 'B18 string reference', v: ['hi', 'hi', ''], hex: '09 07 01 06 05 68 69 06 00 06 01' },
    { name: 'B19 date 0', v: new Date(0), hex: '08 01 00 00 00 00 00 00 00 00' },
    { name: 'B20 date 2006', v: new Date(1136073600000), hex: '08 01 42 70 88 34 36 c0 00 00' },
    { name: 'B21 dense array', v: [1, 2, 3], hex: '09 07 01 04 01 04 02 04 03' },
    { name: 'B22 mixed array', v: Object.assign([1], { a: 'b' }), hex: '09 03 03 61 06 03 62 01 04 01' },
    { name: 'B23 anonymous object', v: { a: 1 }, hex: '0a 0b 01 03 61 04 01 01' },
    { name: 'B24 sealed and dynamic', v: withTraits(new Traits('Point', ['x', 'y'], true), { x: 1, y: 2, label: 'p' }),
      hex: '0a 2b 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0b 6c 61 62 65 6c 06 03 70 01' },
    { name: 'B25 traits reference', v: [withTraits(pt, { x: 1, y: 2 }), withTraits(pt, { x: 3, y: 4 })],
      hex: '09 05 01 0a 23 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0a 01 04 03 04 04' },
    { name: 'B26 object reference', v: [o, o], hex: '09 05 01 0a 0b 01 01 0a 02' },
    { name: 'B27 self-containing array', v: self, hex: '09 03 01 09 00' },
    { name: 'B28 sealed alias', v: withTraits(new Traits('myAlias', ['name', 'age', 'hidden']), { name: 'Ann', age: 30, hidden: 'h' }),
      hex: '0a 33 0f 6d 79 41 6c 69 61 73 09 6e 61 6d 65 07 61 67 65 0d 68 69 64 64 65 6e 06 07 41 6e 6e 04 1e 06 03 68' },
    { name: 'B29 ArrayCollection', v: withTraits(new Traits(ARRAY_COLLECTION, [], false, true), { source: ['a'] }),
      hex: '0a 07 43 66 6c 65 78 2e 6d 65 73 73 61 67 69 6e 67 2e 69 6f 2e 41 72 72 61 79 43 6f 6c 6c 65 63 74 69 6f 6e 09 03 01 06 03 61' },
    { name: 'B30 ByteArray', v: new Uint8Array([1, 2, 3]), hex: '0c 07 01 02 03' },
    { name: 'B31 XML', v: new XML('<a/>'), hex: '0b 09 3c 61 2f 3e' },
    { name: 'B31 XMLDocument', v: new XMLDocument('<a/>'), hex: '07 09 3c 61 2f 3e' },
    { name: 'B32 Vector.<int>', v: new Vector('int', [1, 2]), hex: '0d 05 00 00 00 00 01 00 00 00 02' },
    { name: 'B33 Vector.<int> fixed', v: new Vector('int', [1, -1], { fixed: true }), hex: '0d 05 01 00 00 00 01 ff ff ff ff' },
    { name: 'B34 Vector.<uint>', v: new Vector('uint', [1, 4294967295]), hex: '0e 05 00 00 00 00 01 ff ff ff ff' },
    { name: 'B35 Vector.<Number>', v: new Vector('double', [1.5]), hex: '0f 03 00 3f f8 00 00 00 00 00 00' },
    { name: 'B36 Vector.<Object>', v: new Vector('object', ['a', 'b'], { typeName: 'String' }), hex: '10 05 00 0d 53 74 72 69 6e 67 06 03 61 06 03 62' },
    { name: 'B37 Dictionary', v: new Dictionary([['k', 1]]), hex: '11 03 00 06 03 6b 04 01' },
  ];
}

for (const tc of amf0Vectors()) {
  test(`amf0 ${tc.name}`, () => {
    const want = hex(tc.hex);
    if (!tc.noEnc) {
      const w = new ByteWriter(1);
      w.u8(0xee); // encoders append
      const e = new Encoder(w, tc.opts);
      if (tc.switchAll) e.switched(tc.v); else e.amf0(tc.v);
      const got = w.result();
      assert.equal(got[0], 0xee);
      assert.equal(toHex(got.subarray(1)), toHex(want));
    }
    const d = new Decoder(want);
    const v = d.amf0();
    assert.equal(d.remaining, 0, 'decode consumed the whole vector');
    assert.deepEqual(v, tc.v);
  });
}

for (const tc of amf3Vectors()) {
  test(`amf3 ${tc.name}`, () => {
    const want = hex(tc.hex);
    assert.equal(toHex(encodeAMF3(tc.v)), toHex(want));
    const d = new Decoder(want);
    const v = d.amf3();
    assert.equal(d.remaining, 0, 'decode consumed the whole vector');
    assert.deepEqual(v, tc.v);
  });
}

test('references decode to the same instance', () => {
  let v = decodeAMF0(hex('0a 00 00 00 02 03 00 00 09 07 00 01'))[0];
  assert.equal(v[0], v[1], 'A12');
  v = decodeAMF3(hex('09 05 01 0a 0b 01 01 0a 02'));
  assert.equal(v[0], v[1], 'B26');
  v = decodeAMF3(hex('09 03 01 09 00'));
  assert.equal(v[0], v, 'B27');
  v = decodeAMF3(hex('09 05 01 0a 23 0b 50 6f 69 6e 74 03 78 03 79 04 01 04 02 0a 01 04 03 04 04'));
  assert.equal(v[1].y, 4, 'B25 second y');
  assert.equal(v[1][amfClass], 'Point');
});

test('an anonymous object before repeated traits (the Go encoder once miscounted)', () => {
  const pt = new Traits('Point', ['x']);
  const v = [{ a: 0 }, { b: 1 }, withTraits(pt, { x: 1 }), withTraits(pt, { x: 2 })];
  assert.deepEqual(decodeAMF3(encodeAMF3(v)), v);
  // The server's encoding of the same value (amf.Encoder after the fix).
  assert.deepEqual(decodeAMF3(hex('09 09 01 0a 0b 01 03 61 04 00 01 0a 0b 01 03 62 04 01 01 0a 13 0b 50 6f 69 6e 74 03 78 04 01 0a 09 04 02')),
    [{ a: 0 }, { b: 1 }, withTraits(pt, { x: 1 }), withTraits(pt, { x: 2 })]);
});

const connectHex = `
02 00 07 63 6f 6e 6e 65 63 74 00 3f f0 00 00 00
00 00 00 03 00 03 61 70 70 02 00 03 76 6f 64 00
08 66 6c 61 73 68 56 65 72 02 00 0e 57 49 4e 20
31 30 2c 30 2c 33 32 2c 31 38 00 06 73 77 66 55
72 6c 02 00 1d 68 74 74 70 3a 2f 2f 65 78 61 6d
70 6c 65 2e 63 6f 6d 2f 70 6c 61 79 65 72 2e 73
77 66 00 05 74 63 55 72 6c 02 00 16 72 74 6d 70
3a 2f 2f 65 78 61 6d 70 6c 65 2e 63 6f 6d 2f 76
6f 64 00 04 66 70 61 64 01 00 00 0c 63 61 70 61
62 69 6c 69 74 69 65 73 00 40 6d e0 00 00 00 00
00 00 0b 61 75 64 69 6f 43 6f 64 65 63 73 00 40
ab ee 00 00 00 00 00 00 0b 76 69 64 65 6f 43 6f
64 65 63 73 00 40 6f 80 00 00 00 00 00 00 0d 76
69 64 65 6f 46 75 6e 63 74 69 6f 6e 00 3f f0 00
00 00 00 00 00 00 07 70 61 67 65 55 72 6c 02 00
1d 68 74 74 70 3a 2f 2f 65 78 61 6d 70 6c 65 2e
63 6f 6d 2f 69 6e 64 65 78 2e 68 74 6d 6c 00 0e
6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e 67 00 00
00 00 00 00 00 00 00 00 00 09`;

const resultHex = `
02 00 07 5f 72 65 73 75 6c 74 00 3f f0 00 00 00
00 00 00 03 00 06 66 6d 73 56 65 72 02 00 0d 46
4d 53 2f 33 2c 30 2c 31 2c 31 32 33 00 0c 63 61
70 61 62 69 6c 69 74 69 65 73 00 40 3f 00 00 00
00 00 00 00 04 6d 6f 64 65 00 3f f0 00 00 00 00
00 00 00 00 09 03 00 05 6c 65 76 65 6c 02 00 06
73 74 61 74 75 73 00 04 63 6f 64 65 02 00 1d 4e
65 74 43 6f 6e 6e 65 63 74 69 6f 6e 2e 43 6f 6e
6e 65 63 74 2e 53 75 63 63 65 73 73 00 0b 64 65
73 63 72 69 70 74 69 6f 6e 02 00 15 43 6f 6e 6e
65 63 74 69 6f 6e 20 73 75 63 63 65 65 64 65 64
2e 00 0e 6f 62 6a 65 63 74 45 6e 63 6f 64 69 6e
67 00 00 00 00 00 00 00 00 00 00 00 09`;

test('C1 connect and C2 connect _result bodies', () => {
  const connect = ['connect', 1, {
    app: 'vod', flashVer: 'WIN 10,0,32,18', swfUrl: 'http://example.com/player.swf', tcUrl: 'rtmp://example.com/vod',
    fpad: false, capabilities: 239, audioCodecs: 3575, videoCodecs: 252, videoFunction: 1,
    pageUrl: 'http://example.com/index.html', objectEncoding: 0,
  }];
  const result = ['_result', 1, { fmsVer: 'FMS/3,0,1,123', capabilities: 31, mode: 1 },
    { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 }];
  for (const [h, vs, size] of [[connectHex, connect, 298], [resultHex, result, 205]]) {
    const want = hex(h);
    assert.equal(want.length, size);
    assert.equal(toHex(encodeAMF0(vs)), toHex(want));
    assert.deepEqual(decodeAMF0(want), vs);
  }
});

test('C3 AMF3 call', () => {
  const want = hex('00 02 00 04 65 63 68 6f 00 40 00 00 00 00 00 00 00 05 11 06 05 68 69');
  const w = new ByteWriter();
  w.u8(0);
  const e = new Encoder(w);
  for (const v of ['echo', 2, null]) e.amf0(v);
  e.switched('hi');
  assert.equal(toHex(w.result()), toHex(want));
  assert.deepEqual(decodeAMF0(want.subarray(1)), ['echo', 2, null, 'hi']);
});

test('values without an AMF0 form are switched to AMF3', () => {
  assert.equal(toHex(encodeAMF0([new Uint8Array([9])])), '11 0c 03 09');
  assert.equal(toHex(encodeAMF0([new Map([['k', 1]])])), '11 11 03 00 06 03 6b 04 01');
});

test('an array with named keys is an AMF0 ECMA array', () => {
  const v = Object.assign([7], { k: 'v' });
  assert.equal(toHex(encodeAMF0([v])), '08 00 00 00 02 00 01 30 00 40 1c 00 00 00 00 00 00 00 01 6b 02 00 01 76 00 00 09');
});

test('a cycle is written as an AMF0 reference, a repeat is not', () => {
  const a = { n: 1 };
  a.self = a;
  const got = decodeAMF0(encodeAMF0([a]))[0];
  assert.equal(got.self, got);
  const o = { x: 1 };
  assert.equal(toHex(encodeAMF0([[o, o]])), '0a 00 00 00 02 03 00 01 78 00 3f f0 00 00 00 00 00 00 00 00 09 03 00 01 78 00 3f f0 00 00 00 00 00 00 00 00 09');
});

test('a "__proto__" key is a property, not the prototype', () => {
  const got = decodeAMF0(hex('03 00 09 5f 5f 70 72 6f 74 6f 5f 5f 03 00 01 78 05 00 00 09 00 00 09'))[0];
  assert.equal(Object.getPrototypeOf(got), Object.prototype);
  assert.deepEqual(Object.keys(got), ['__proto__']);
  assert.equal(({}).x, undefined);
});

test('negative vectors', () => {
  const deep = '03 00 01 61 '.repeat(65) + '05';
  for (const [name, h, amf3, code, msg, offset] of [
    ['truncated string', '02 00 05 61 62', false, ErrorCode.truncated, 'truncated string', 1],
    ['strict array count', '0a ff ff ff ff 05', false, ErrorCode.truncated, 'strict array count 4294967295 exceeds remaining 1 bytes', 1],
    ['reference into empty table', '07 00 00', false, ErrorCode.badReference, 'reference index 0 out of range (table has 0)', 0],
    ['empty key without object-end', '03 00 00 05', false, ErrorCode.malformed, 'empty key not followed by object-end', 1],
    ['movieclip', '04', false, ErrorCode.unsupported, 'movieclip', 0],
    ['recordset', '0e', false, ErrorCode.unsupported, 'recordset', 0],
    ['unknown AMF0 marker', '12', false, ErrorCode.unknownMarker, 'unknown marker 0x12', 0],
    ['object-end as value', '09', false, ErrorCode.unknownMarker, 'object-end', 0],
    ['truncated AMF3 array', '11 09 03 01', false, ErrorCode.truncated, 'truncated value', 4],
    ['object reference out of range', '11 0a 00', false, ErrorCode.badReference, 'object reference 0 out of range (table has 0)', 1],
    ['string reference out of range', '11 06 02', false, ErrorCode.badReference, 'string reference 1 out of range (table has 0)', 2],
    ['externalizable', '11 0a 07 03 58', false, ErrorCode.unsupported, 'externalizable class "X" not supported', 1],
    ['65 nested objects', deep, false, ErrorCode.tooDeep, 'nesting deeper than 64', 64 * 4],
    ['unknown AMF3 marker', '12', true, ErrorCode.unknownMarker, 'unknown marker 0x12', 0],
    ['traits reference out of range', '0a 05', true, ErrorCode.badReference, 'traits reference 1 out of range (table has 0)', 0],
    ['huge ByteArray', '0c ff ff ff ff 00', true, ErrorCode.truncated, 'ByteArray: length', 1],
    ['huge vector', '0f ff ff ff ff 00', true, ErrorCode.truncated, 'Vector.<Number> count', 1],
    ['huge dictionary', '11 ff ff ff ff 00 04 01', true, ErrorCode.truncated, 'Dictionary entry count', 1],
    ['huge sealed count', '0a ff ff ff f3 01', true, ErrorCode.truncated, 'sealed member count', 1],
  ]) {
    const d = new Decoder(hex(h));
    assert.throws(() => (amf3 ? d.amf3() : d.amf0()), (err) => {
      assert.ok(err instanceof AMFError, `${name}: ${err}`);
      assert.equal(err.code, code, `${name}: ${err.message}`);
      assert.ok(err.message.includes(msg), `${name}: message ${err.message}`);
      assert.equal(err.offset, offset, `${name}: offset of ${err.message}`);
      return true;
    });
  }
});

test('every truncation of the vectors fails cleanly', () => {
  for (const tc of [...amf0Vectors(), ...amf3Vectors().map((v) => ({ ...v, amf3: true }))]) {
    const b = hex(tc.hex);
    for (let n = 0; n < Math.min(b.length, 200); n++) {
      const d = new Decoder(b.subarray(0, n));
      assert.throws(() => (tc.amf3 ? d.amf3() : d.amf0()), AMFError, `${tc.name} cut at ${n}`);
    }
  }
});
