'use strict'
// Cross-check of openfcs/amf against bytearray-node (an independent AMF0/AMF3
// implementation), driven by amf/interop_test.go.
//
//   node interop.js encode   -> JSON on stdout: the corpus, each case with its
//                               encoding, bytearray-node's bytes (hex) and a
//                               description of the value
//   node interop.js decode   <- JSON on stdin: [{name, enc, hex}] written by Go
//                               -> JSON verdicts: bytearray-node decodes each and
//                               compares with the corpus value
//
// Descriptions are tagged trees that both sides can build:
//   {t:"undefined"} {t:"null"} {t:"bool",v} {t:"number",v:"1.5"|"NaN"|"-0"|...}
//   {t:"string",v} {t:"date",v:"ms"} {t:"object",class,props:[[k,d]...]}
//   {t:"ecma",props} {t:"array",elems} {t:"mixed",elems,props} {t:"bytes",v:hex}
//   {t:"vint"|"vuint"|"vdouble",v:["1",...]}

// bytearray-node loads lzma-native (a native addon) for its LZMA
// compression, which this check does not use. The addon is installed with
// --ignore-scripts, so it has no binary: a stub stands in for it.
const lzmaPath = require.resolve('lzma-native')
require.cache[lzmaPath] = {
  id: lzmaPath,
  filename: lzmaPath,
  loaded: true,
  exports: { LZMA () { throw new Error('LZMA is not available in the interop check') } }
}

const ByteArray = require('bytearray-node')
const { ObjectEncoding } = require('bytearray-node/enums/')

class Point {
  constructor (x, y) {
    this.x = x
    this.y = y
  }
}
// AMF0 only: bytearray-node writes AMF3 sealed members as name/value pairs
// (not names first), which no AMF3 reader accepts, so typed objects are not
// cross-checked in AMF3.
ByteArray.registerClassAlias(ObjectEncoding.AMF0, 'Point', Point)
const aliases = new Map([[Point, 'Point']])

function bytes (arr) {
  const b = new ByteArray()
  for (const x of arr) b.writeByte(x)
  return b
}

function num (v) {
  if (Object.is(v, -0)) return '-0'
  return String(v)
}

// describe turns a JS value as bytearray-node produces or consumes it into a
// description; enc decides how arrays look (AMF0 writes JS arrays as ECMA
// arrays with "0", "1", ... keys).
function describe (v, enc) {
  if (v === undefined) return { t: 'undefined' }
  if (v === null) return { t: 'null' }
  switch (typeof v) {
    case 'boolean': return { t: 'bool', v }
    case 'number': return { t: 'number', v: num(v) }
    case 'string': return { t: 'string', v }
  }
  if (v instanceof Date) return { t: 'date', v: num(v.getTime()) }
  if (v instanceof Int32Array) return { t: 'vint', v: Array.from(v, num) }
  if (v instanceof Uint32Array) return { t: 'vuint', v: Array.from(v, num) }
  if (v instanceof Float64Array) return { t: 'vdouble', v: Array.from(v, num) }
  if (v instanceof ByteArray) return { t: 'bytes', v: Buffer.from(v.buffer).toString('hex') }
  if (v.constructor && v.constructor.name === 'Stream' && Array.isArray(v.data)) {
    return { t: 'bytes', v: Buffer.from(v.data).toString('hex') } // amf3-ts ByteArray
  }
  if (Array.isArray(v)) {
    const named = Object.keys(v).filter((k) => !/^(0|[1-9][0-9]*)$/.test(k))
    if (enc === 'amf0') {
      return { t: 'ecma', props: Object.keys(v).map((k) => [k, describe(v[k], enc)]) }
    }
    const elems = []
    for (let i = 0; i < v.length; i++) elems.push(describe(v[i], enc))
    if (named.length === 0) return { t: 'array', elems }
    return { t: 'mixed', elems, props: named.map((k) => [k, describe(v[k], enc)]) }
  }
  const cls = aliases.get(v.constructor) || ''
  return { t: 'object', class: cls, props: Object.keys(v).map((k) => [k, describe(v[k], enc)]) }
}

const shared = { s: 'shared' }
const mixed = [1, 2]
mixed.label = 'm'

// Values both encodings express. Not in the corpus, because bytearray-node
// cannot express them (see amf/interop_test.go): AMF0 strict arrays and XML,
// AMF0/AMF3 cycles (they would need a description with references), AMF3
// typed objects, Dictionary (written without the weak-keys byte), Vector.<Object>,
// negative Vector.<int> elements, AMF3 -0 (written as integer 0), and
// null/undefined inside arrays (read back as holes, in AMF0 too).
const common = {
  'number 0': 0,
  'number 1': 1,
  'number -2.5': -2.5,
  'number pi': Math.PI,
  'number 1e300': 1e300,
  'number 2^28': 268435456,
  'number 2^28-1': 268435455,
  'number -2^28': -268435456,
  'number -2^28-1': -268435457,
  'number 70000': 70000,
  'number NaN': NaN,
  'number +Inf': Infinity,
  'number -Inf': -Infinity,
  true: true,
  false: false,
  null: null,
  undefined,
  'string ascii': 'app',
  'string empty': '',
  'string unicode': 'hé 日本語 ✓ 😀',
  'string long': 'a'.repeat(70000),
  'object flat': { app: 'vod', flashVer: 'WIN 10,0,32,18', fpad: false, capabilities: 239, objectEncoding: 3 },
  'object nested': { name: 'x', inner: { n: 1, deeper: { s: 'é', b: true } }, empty: {} },
  'object empty': {},
  'object repeated keys strings': { a: 'same', b: 'same', c: { a: 'same' } },
  'object shared twice': { one: shared, two: shared },
  'array numbers': [1, 2, 3],
  'array mixed types': ['a', 1.5, true, { k: 'v' }],
  'array of arrays': [[1], [2, [3]]],
  'array empty': [],
  'date epoch': new Date(0),
  'date 2006': new Date(1136073600000),
  'date in object': { when: new Date(1136073600000), what: 'x' }
}

const amf0Only = {
  'typed Point': new Point(1, 2),
  'typed in object': { p: new Point(3.5, -4), tag: 't' },
  'object with null and undefined': { n: null, u: undefined, z: 0 },
  'number -0': -0
}

const amf3Only = {
  'bytearray': bytes([1, 2, 3, 0, 255]),
  'bytearray empty': bytes([]),
  'bytearray in object': { data: bytes([7, 8]), n: 1 },
  'vector int': new Int32Array([0, 1, 2147483647]),
  'vector uint': new Uint32Array([0, 1, 4294967295]),
  'vector double': new Float64Array([1.5, -2.25, 1e300]),
  'array mixed assoc': mixed,
  'object with arrays': { list: ['x', 'y', 'x'], nums: [1, 2] }
}

function corpus (enc) {
  return Object.assign({}, common, enc === 'amf0' ? amf0Only : amf3Only)
}

function encoding (enc) {
  return enc === 'amf0' ? ObjectEncoding.AMF0 : ObjectEncoding.AMF3
}

function encode () {
  const out = []
  for (const enc of ['amf0', 'amf3']) {
    for (const [name, value] of Object.entries(corpus(enc))) {
      const ba = new ByteArray()
      ba.objectEncoding = encoding(enc)
      ba.writeObject(value)
      out.push({ name, enc, hex: Buffer.from(ba.buffer).toString('hex'), desc: describe(value, enc) })
    }
  }
  return out
}

function decode (cases) {
  return cases.map(({ name, enc, hex }) => {
    const want = corpus(enc)[name]
    try {
      const ba = new ByteArray(Buffer.from(hex, 'hex'))
      ba.objectEncoding = encoding(enc)
      const got = ba.readObject()
      const gd = JSON.stringify(describe(got, enc))
      const wd = JSON.stringify(describe(want, enc))
      const rest = ba.bytesAvailable
      if (rest !== 0) return { name, enc, ok: false, why: `${rest} bytes left over`, got: gd }
      return gd === wd ? { name, enc, ok: true } : { name, enc, ok: false, why: 'value differs', got: gd, want: wd }
    } catch (err) {
      return { name, enc, ok: false, why: String(err && err.stack ? err.stack : err) }
    }
  })
}

function main () {
  const cmd = process.argv[2]
  if (cmd === 'encode') {
    process.stdout.write(JSON.stringify(encode()))
  } else if (cmd === 'decode') {
    const input = require('fs').readFileSync(0, 'utf8')
    process.stdout.write(JSON.stringify(decode(JSON.parse(input))))
  } else {
    process.stderr.write('usage: node interop.js encode|decode\n')
    process.exit(2)
  }
}

main()
