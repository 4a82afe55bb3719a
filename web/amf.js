// AMF0 and AMF3 (docs/amf.md): JavaScript values in, bytes out, and back.
//
// Mapping (both directions unless noted):
//   number, boolean, string, null, undefined   as themselves
//   Date                                       date
//   Array                                      strict array (AMF0), array (AMF3); an Array with
//                                              named keys is an ECMA array / mixed array
//   plain object                               anonymous object; with obj[amfClass] a typed object,
//                                              with obj[amfTraits] (AMF3) those traits
//   object marked with ecma(obj)               ECMA array (AMF0); AMF0 ECMA arrays decode to these
//   Uint8Array, ArrayBuffer (encode only)      ByteArray (AMF3; switched with 0x11 from AMF0)
//   Vector                                     Vector.<int|uint|Number|Object> (AMF3)
//   Map / Dictionary                           Dictionary (AMF3)
//   XMLDocument, XML                           XML document (0x0f / 0x07), E4X XML (0x0b)
//   unsupported                                AMF0 0x0d
//
// Decoding follows the limits of the server's decoder: nesting depth,
// string length and counts are checked against what remains before
// anything is allocated, so a hostile body costs at most its own size.

/** The class name of a typed object (AMF0 0x10, AMF3 traits alias). */
export const amfClass = Symbol.for('openfcs.amf.class');
/** The AMF3 traits an object arrived with; re-encoding writes them back. */
export const amfTraits = Symbol.for('openfcs.amf.traits');
/** Marks a plain object as an ECMA (associative) array. */
export const amfECMA = Symbol.for('openfcs.amf.ecma');

/** Error codes of AMFError, one per kind of bad input. */
export const ErrorCode = Object.freeze({
  truncated: 'truncated',
  malformed: 'malformed',
  badReference: 'bad-reference',
  unsupported: 'unsupported',
  unknownMarker: 'unknown-marker',
  tooDeep: 'too-deep',
  tooLarge: 'too-large',
  notEncodable: 'not-encodable',
});

/** A decoding or encoding failure: code is one of ErrorCode, offset where the value started. */
export class AMFError extends Error {
  constructor(code, message, offset = -1) {
    super(offset >= 0 ? `${message} at offset ${offset}` : message);
    this.name = 'AMFError';
    this.code = code;
    this.offset = offset;
  }
}

/** The text of a legacy XMLDocument (AMF0 0x0f, AMF3 0x07). */
export class XMLDocument {
  constructor(text) { this.text = String(text); }
  toString() { return this.text; }
}

/** The text of an E4X XML value (AMF3 0x0b). */
export class XML {
  constructor(text) { this.text = String(text); }
  toString() { return this.text; }
}

/** An AMF3 Vector: kind 'int', 'uint', 'double' or 'object' (with typeName). */
export class Vector {
  constructor(kind, items = [], { fixed = false, typeName = '' } = {}) {
    if (!['int', 'uint', 'double', 'object'].includes(kind)) throw new TypeError(`Vector kind ${kind}`);
    this.kind = kind;
    this.items = items;
    this.fixed = fixed;
    this.typeName = typeName;
  }
}

/** An AMF3 Dictionary: a Map whose keys may be any value. */
export class Dictionary extends Map {
  constructor(entries, weakKeys = false) {
    super(entries);
    this.weakKeys = weakKeys;
  }
}

/** The AMF0 "unsupported" value (0x0d). */
export const unsupported = Object.freeze({ [Symbol.toStringTag]: 'AMFUnsupported' });

/** Traits of an AMF3 object: class alias, sealed member names, dynamic flag. */
export class Traits {
  constructor(className = '', sealed = [], dynamic = false, externalizable = false) {
    this.className = className;
    this.sealed = sealed;
    this.dynamic = dynamic;
    this.externalizable = externalizable;
  }
}

/** Flex wrapper classes whose externalizable body is exactly one AMF3 value. */
export const ARRAY_COLLECTION = 'flex.messaging.io.ArrayCollection';
export const OBJECT_PROXY = 'flex.messaging.io.ObjectProxy';

/** typed(className, props) returns a typed object (AMF0 0x10). */
export function typed(className, props = {}) {
  return Object.assign({ [amfClass]: className }, props);
}

/** ecma(props) returns an object that encodes as an ECMA array (AMF0 0x08). */
export function ecma(props = {}) {
  return Object.assign({ [amfECMA]: true }, props);
}

/** withTraits(traits, props) returns an object that encodes with the given AMF3 traits. */
export function withTraits(traits, props = {}) {
  return Object.assign({ [amfClass]: traits.className, [amfTraits]: traits }, props);
}

/** Default decoder limits, equal to the server's (docs/amf.md#limits). */
export const defaultLimits = Object.freeze({
  maxDepth: 64,
  maxRefs: 1_000_000,
  maxStringLen: 1 << 20,
  maxElems: 1_000_000,
});

// setProp defines a property even when its name is "__proto__", which an
// assignment would take as the prototype: keys come from the peer.
function setProp(o, k, v) {
  if (k === 'length' && Array.isArray(o)) return; // cannot be an array's named key
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder('utf-8');

// ---------------------------------------------------------------------------
// Byte writer

/** ByteWriter appends big-endian fields to a growing buffer. */
export class ByteWriter {
  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.length = 0;
  }

  reserve(n) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(0, this.length));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }

  u8(v) { this.reserve(1); this.buf[this.length++] = v; }
  u16(v) { this.reserve(2); this.view.setUint16(this.length, v); this.length += 2; }
  u24(v) { this.reserve(3); this.buf[this.length] = v >>> 16; this.buf[this.length + 1] = v >>> 8; this.buf[this.length + 2] = v; this.length += 3; }
  u32(v) { this.reserve(4); this.view.setUint32(this.length, v >>> 0); this.length += 4; }
  i32(v) { this.reserve(4); this.view.setInt32(this.length, v); this.length += 4; }
  u32le(v) { this.reserve(4); this.view.setUint32(this.length, v >>> 0, true); this.length += 4; }
  f64(v) { this.reserve(8); this.view.setFloat64(this.length, v); this.length += 8; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.length); this.length += b.length; }

  /** result returns the bytes written (a view of the internal buffer). */
  result() { return this.buf.subarray(0, this.length); }
}

// ---------------------------------------------------------------------------
// Encoding

function isMap(v) { return v instanceof Map; }
function isBytes(v) { return v instanceof Uint8Array || v instanceof ArrayBuffer; }

// needsAMF3 reports whether v has no AMF0 form (docs/amf.md#converting-between-amf0-and-amf3).
function needsAMF3(v) {
  return isBytes(v) || v instanceof Vector || isMap(v) || v instanceof XML ||
    (v !== null && typeof v === 'object' && v[amfTraits] instanceof Traits);
}

// ownKeys returns an array's named (non-index) keys, or an object's keys.
function namedKeys(arr) {
  const out = [];
  for (const k of Object.keys(arr)) {
    if (!isIndex(k, arr.length)) out.push(k);
  }
  return out;
}

function isIndex(k, len) {
  if (k.length === 0 || k.length > 10) return false;
  const n = Number(k);
  return Number.isInteger(n) && n >= 0 && n < len && String(n) === k;
}

/**
 * Encoder writes AMF0 and AMF3 values. One Encoder writes one message
 * body: its reference tables span the body's values.
 *
 * options.shareRepeats: write AMF0 references (0x07) for every repeated
 * object, not only for cycles. options.switchAll: write every value through
 * the AMF3 switch (what Flash Player does for the arguments of an AMF3
 * connection).
 */
export class Encoder {
  constructor(w = new ByteWriter(), { shareRepeats = false } = {}) {
    this.w = w;
    this.shareRepeats = shareRepeats;
    this.seen0 = new Map(); // AMF0 complex values -> index (shareRepeats)
    this.count0 = 0;
    this.path = []; // AMF0 values being written (cycle detection)
  }

  /** amf0 appends one AMF0 value. */
  amf0(v, depth = 0) {
    const w = this.w;
    if (depth > defaultLimits.maxDepth) throw new AMFError(ErrorCode.tooDeep, `amf: nesting deeper than ${defaultLimits.maxDepth}`);
    switch (typeof v) {
      case 'undefined': w.u8(0x06); return;
      case 'boolean': w.u8(0x01); w.u8(v ? 1 : 0); return;
      case 'number': w.u8(0x00); w.f64(v); return;
      case 'bigint': w.u8(0x00); w.f64(Number(v)); return;
      case 'string': this.string0(v, true); return;
      case 'function': case 'symbol':
        throw new AMFError(ErrorCode.notEncodable, `amf0: a ${typeof v} has no AMF form`);
    }
    if (v === null) { w.u8(0x05); return; }
    if (v === unsupported) { w.u8(0x0d); return; }
    if (v instanceof Date) { w.u8(0x0b); w.f64(v.getTime()); w.u16(0); return; }
    if (v instanceof XMLDocument) {
      const b = utf8.encode(v.text);
      w.u8(0x0f); w.u32(b.length); w.bytes(b);
      return;
    }
    if (v instanceof Number || v instanceof String || v instanceof Boolean) { this.amf0(v.valueOf(), depth); return; }
    if (needsAMF3(v)) { this.switched(v); return; }
    // Complex values: references for cycles (always) and repeats (shareRepeats).
    const at = this.path.indexOf(v);
    if (at >= 0 || (this.shareRepeats && this.seen0.has(v))) {
      const idx = this.seen0.get(v);
      if (idx === undefined || idx > 0xffff) throw new AMFError(ErrorCode.notEncodable, 'amf0: reference index out of range');
      w.u8(0x07); w.u16(idx);
      return;
    }
    this.seen0.set(v, this.count0++);
    this.path.push(v);
    try {
      if (Array.isArray(v)) {
        const named = namedKeys(v);
        if (named.length === 0) {
          w.u8(0x0a); w.u32(v.length);
          for (let i = 0; i < v.length; i++) this.amf0(v[i], depth + 1);
        } else {
          // An array with named keys is an ECMA array (dense entries as keys "0", "1", ...).
          w.u8(0x08); w.u32(v.length + named.length);
          for (let i = 0; i < v.length; i++) { this.key0(String(i)); this.amf0(v[i], depth + 1); }
          for (const k of named) { this.key0(k); this.amf0(v[k], depth + 1); }
          w.u16(0); w.u8(0x09);
        }
        return;
      }
      const keys = Object.keys(v);
      if (v[amfECMA]) {
        w.u8(0x08); w.u32(keys.length);
      } else if (v[amfClass]) {
        w.u8(0x10); this.key0(v[amfClass]);
      } else {
        w.u8(0x03);
      }
      for (const k of keys) { this.key0(k); this.amf0(v[k], depth + 1); }
      w.u16(0); w.u8(0x09);
    } finally {
      this.path.pop();
    }
  }

  /** switched appends 0x11 and one AMF3 value with fresh AMF3 tables. */
  switched(v) {
    this.w.u8(0x11);
    new Encoder3(this.w).value(v, 0);
  }

  string0(s, marker) {
    const b = utf8.encode(s);
    if (b.length > 0xffff) {
      if (!marker) throw new AMFError(ErrorCode.tooLarge, `amf0: key of ${b.length} bytes`);
      this.w.u8(0x0c); this.w.u32(b.length);
    } else {
      if (marker) this.w.u8(0x02);
      this.w.u16(b.length);
    }
    this.w.bytes(b);
  }

  key0(s) { this.string0(String(s), false); }
}

/** Encoder3 writes AMF3 values with one set of reference tables. */
export class Encoder3 {
  constructor(w = new ByteWriter()) {
    this.w = w;
    this.strings = new Map();
    this.objects = new Map();
    this.objectCount = 0;
    this.traits = new Map(); // Traits instance or key string -> index
    this.traitCount = 0;
  }

  u29(v) {
    const w = this.w;
    v &= 0x1fffffff;
    if (v < 0x80) { w.u8(v); } else if (v < 0x4000) { w.u8((v >> 7) | 0x80); w.u8(v & 0x7f); } else if (v < 0x200000) {
      w.u8((v >> 14) | 0x80); w.u8(((v >> 7) & 0x7f) | 0x80); w.u8(v & 0x7f);
    } else {
      w.u8((v >> 22) | 0x80); w.u8(((v >> 15) & 0x7f) | 0x80); w.u8(((v >> 8) & 0x7f) | 0x80); w.u8(v & 0xff);
    }
  }

  str(s) {
    if (s === '') { this.w.u8(0x01); return; }
    const idx = this.strings.get(s);
    if (idx !== undefined) { this.u29(idx << 1); return; }
    const b = utf8.encode(s);
    if (b.length > 0xfffffff) throw new AMFError(ErrorCode.tooLarge, `amf3: string of ${b.length} bytes`);
    this.strings.set(s, this.strings.size);
    this.u29((b.length << 1) | 1);
    this.w.bytes(b);
  }

  // ref writes an object reference and returns true when v was written before.
  ref(v) {
    const idx = this.objects.get(v);
    if (idx !== undefined) { this.u29(idx << 1); return true; }
    this.objects.set(v, this.objectCount++);
    return false;
  }

  value(v, depth) {
    const w = this.w;
    if (depth > defaultLimits.maxDepth) throw new AMFError(ErrorCode.tooDeep, `amf: nesting deeper than ${defaultLimits.maxDepth}`);
    switch (typeof v) {
      case 'undefined': w.u8(0x00); return;
      case 'boolean': w.u8(v ? 0x03 : 0x02); return;
      case 'bigint': v = Number(v); // falls through
      case 'number':
        if (Number.isInteger(v) && v >= -0x10000000 && v <= 0x0fffffff && !Object.is(v, -0)) {
          w.u8(0x04); this.u29(v);
        } else {
          w.u8(0x05); w.f64(v);
        }
        return;
      case 'string': w.u8(0x06); this.str(v); return;
      case 'function': case 'symbol':
        throw new AMFError(ErrorCode.notEncodable, `amf3: a ${typeof v} has no AMF form`);
    }
    if (v === null || v === unsupported) { w.u8(0x01); return; }
    if (v instanceof Number || v instanceof String || v instanceof Boolean) { this.value(v.valueOf(), depth); return; }
    if (v instanceof Date) {
      w.u8(0x08);
      if (this.ref(v)) return;
      w.u8(0x01); w.f64(v.getTime());
      return;
    }
    if (v instanceof XMLDocument || v instanceof XML) {
      w.u8(v instanceof XML ? 0x0b : 0x07);
      if (this.ref(v)) return;
      const b = utf8.encode(v.text);
      this.u29((b.length << 1) | 1); w.bytes(b);
      return;
    }
    if (isBytes(v)) {
      w.u8(0x0c);
      if (this.ref(v)) return;
      const b = v instanceof ArrayBuffer ? new Uint8Array(v) : v;
      this.u29((b.length << 1) | 1); w.bytes(b);
      return;
    }
    if (v instanceof Vector) { this.vector(v, depth); return; }
    if (isMap(v)) {
      w.u8(0x11);
      if (this.ref(v)) return;
      this.u29((v.size << 1) | 1); w.u8(v.weakKeys ? 1 : 0);
      for (const [k, val] of v) { this.value(k, depth + 1); this.value(val, depth + 1); }
      return;
    }
    if (Array.isArray(v)) {
      w.u8(0x09);
      if (this.ref(v)) return;
      const named = namedKeys(v);
      this.u29((v.length << 1) | 1);
      for (const k of named) { this.str(k); this.value(v[k], depth + 1); }
      w.u8(0x01);
      for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1);
      return;
    }
    if (v[amfECMA]) {
      // An ECMA array: keys 0..n-1 without gaps dense, the rest associative.
      w.u8(0x09);
      if (this.ref(v)) return;
      const keys = Object.keys(v);
      let n = 0;
      while (Object.hasOwn(v, String(n))) n++;
      this.u29((n << 1) | 1);
      for (const k of keys) if (!isIndex(k, n)) { this.str(k); this.value(v[k], depth + 1); }
      w.u8(0x01);
      for (let i = 0; i < n; i++) this.value(v[String(i)], depth + 1);
      return;
    }
    w.u8(0x0a);
    if (this.ref(v)) return;
    this.object(v, depth);
  }

  object(v, depth) {
    const t = v[amfTraits];
    if (!(t instanceof Traits)) {
      // Anonymous or typed (AMF0-style) object: dynamic traits, no sealed
      // members. Equal traits are written once and referenced after.
      const key = `d:${v[amfClass] ?? ''}`;
      if (!this.traitRef(key)) { this.w.u8(0x0b); this.str(v[amfClass] ?? ''); }
      this.dynamic(v, Object.keys(v), depth);
      return;
    }
    if (!this.traitRef(t)) {
      if (t.externalizable) {
        this.w.u8(0x07);
      } else {
        this.u29((t.sealed.length << 4) | (t.dynamic ? 0x08 : 0) | 0x03);
      }
      this.str(t.className);
      for (const s of t.sealed) this.str(s);
    }
    if (t.externalizable) {
      if (t.className !== ARRAY_COLLECTION && t.className !== OBJECT_PROXY) {
        throw new AMFError(ErrorCode.notEncodable, `amf3: externalizable class ${JSON.stringify(t.className)} not supported`);
      }
      this.value(v.source, depth + 1);
      return;
    }
    for (const s of t.sealed) this.value(v[s], depth + 1);
    if (t.dynamic) {
      const sealed = new Set(t.sealed);
      this.dynamic(v, Object.keys(v).filter((k) => !sealed.has(k)), depth);
    }
  }

  // traitRef writes a traits reference when key was written before and
  // returns true; otherwise it numbers key and returns false.
  traitRef(key) {
    const idx = this.traits.get(key);
    if (idx !== undefined) { this.u29((idx << 2) | 1); return true; }
    this.traits.set(key, this.traitCount++);
    return false;
  }

  dynamic(v, keys, depth) {
    for (const k of keys) {
      if (k === '') continue; // the empty name ends the list; such a key cannot be sent
      this.str(k); this.value(v[k], depth + 1);
    }
    this.w.u8(0x01);
  }

  vector(v, depth) {
    const w = this.w;
    w.u8({ int: 0x0d, uint: 0x0e, double: 0x0f, object: 0x10 }[v.kind]);
    if (this.ref(v)) return;
    this.u29((v.items.length << 1) | 1);
    w.u8(v.fixed ? 1 : 0);
    switch (v.kind) {
      case 'int': for (const x of v.items) w.i32(x); break;
      case 'uint': for (const x of v.items) w.u32(x); break;
      case 'double': for (const x of v.items) w.f64(x); break;
      default:
        this.str(v.typeName);
        for (const x of v.items) this.value(x, depth + 1);
    }
  }
}

/** encodeAMF0 returns the AMF0 encoding of the values, one after the other. */
export function encodeAMF0(values, options) {
  const e = new Encoder(new ByteWriter(), options);
  for (const v of values) e.amf0(v);
  return e.w.result().slice();
}

/** encodeAMF3 returns the AMF3 encoding of one value. */
export function encodeAMF3(value) {
  const e = new Encoder3();
  e.value(value, 0);
  return e.w.result().slice();
}

// ---------------------------------------------------------------------------
// Decoding

/**
 * Decoder reads AMF0 and AMF3 values from one message body. Its reference
 * tables span the body: AMF0 complex values, and one set of AMF3 tables
 * for every 0x11-switched value (docs/amf.md#amf3-reference-tables).
 */
export class Decoder {
  constructor(bytes, limits = defaultLimits) {
    this.b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    this.v = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength);
    this.off = 0;
    this.lim = { ...defaultLimits, ...limits };
    this.refs0 = [];
    this.strs3 = [];
    this.objs3 = [];
    this.traits3 = [];
    this.elems = 0;
  }

  get remaining() { return this.b.length - this.off; }

  need(n, what, at) {
    if (n > this.remaining) {
      throw new AMFError(ErrorCode.truncated, `${what}: length ${n} exceeds remaining ${this.remaining} bytes`, at);
    }
  }

  u8() { this.need(1, 'amf: truncated value', this.off); return this.b[this.off++]; }
  u16() { this.need(2, 'amf: truncated value', this.off); const x = this.v.getUint16(this.off); this.off += 2; return x; }
  u32() { this.need(4, 'amf: truncated value', this.off); const x = this.v.getUint32(this.off); this.off += 4; return x; }
  f64() { this.need(8, 'amf: truncated value', this.off); const x = this.v.getFloat64(this.off); this.off += 8; return x; }

  text(n, what, at) {
    if (n > this.lim.maxStringLen) throw new AMFError(ErrorCode.tooLarge, `${what} of ${n} bytes, limit ${this.lim.maxStringLen}`, at);
    this.need(n, what, at);
    const s = utf8d.decode(this.b.subarray(this.off, this.off + n));
    this.off += n;
    return s;
  }

  count() {
    if (++this.elems > this.lim.maxElems) throw new AMFError(ErrorCode.tooLarge, `amf: more than ${this.lim.maxElems} values`, this.off);
  }

  // depthCheck refuses a container nested in maxDepth others.
  depthCheck(depth, at) {
    if (depth >= this.lim.maxDepth) throw new AMFError(ErrorCode.tooDeep, `amf: nesting deeper than ${this.lim.maxDepth}`, at);
  }

  /** amf0 reads one AMF0 value. */
  amf0(depth = 0) {
    const at = this.off;
    this.count();
    const m = this.u8();
    if (m === 0x03 || m === 0x08 || m === 0x0a || m === 0x10) this.depthCheck(depth, at);
    switch (m) {
      case 0x00: return this.f64();
      case 0x01: return this.u8() !== 0;
      case 0x02: { this.need(2, 'amf0: truncated string', at + 1); const n = this.u16(); return this.text(n, 'amf0: truncated string', at + 1); }
      case 0x03: case 0x10: {
        let cls;
        if (m === 0x10) {
          this.need(2, 'amf0: truncated class name', at + 1);
          cls = this.text(this.u16(), 'amf0: truncated class name', at + 1);
        }
        const o = cls === undefined ? {} : { [amfClass]: cls };
        this.addRef0(o, at);
        this.props0(o, depth, at);
        return o;
      }
      case 0x04: throw new AMFError(ErrorCode.unsupported, 'amf0: unsupported marker 0x04 (movieclip)', at);
      case 0x05: return null;
      case 0x06: return undefined;
      case 0x07: {
        const i = this.u16();
        if (i >= this.refs0.length) throw new AMFError(ErrorCode.badReference, `amf0: reference index ${i} out of range (table has ${this.refs0.length})`, at);
        return this.refs0[i];
      }
      case 0x08: {
        this.u32(); // the count is a hint only (docs/amf.md#amf0-details)
        const o = { [amfECMA]: true };
        this.addRef0(o, at);
        this.props0(o, depth, at);
        return o;
      }
      case 0x09: throw new AMFError(ErrorCode.unknownMarker, 'amf0: unexpected object-end marker 0x09', at);
      case 0x0a: {
        const n = this.u32();
        if (n > this.remaining) throw new AMFError(ErrorCode.truncated, `amf0: strict array count ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
        const a = [];
        this.addRef0(a, at);
        for (let i = 0; i < n; i++) a.push(this.amf0(depth + 1));
        return a;
      }
      case 0x0b: { const t = this.f64(); this.u16(); return new Date(t); }
      case 0x0c: { this.need(4, 'amf0: truncated string', at + 1); const n = this.u32(); return this.text(n, 'amf0: truncated string', at + 1); }
      case 0x0d: return unsupported;
      case 0x0e: throw new AMFError(ErrorCode.unsupported, 'amf0: unsupported marker 0x0e (recordset)', at);
      case 0x0f: { const n = this.u32(); return new XMLDocument(this.text(n, 'amf0: truncated XML', at + 1)); }
      case 0x11: return this.amf3(depth);
      default:
        throw new AMFError(ErrorCode.unknownMarker, `amf0: unknown marker 0x${m.toString(16).padStart(2, '0')}`, at);
    }
  }

  addRef0(v, at) {
    if (this.refs0.length >= this.lim.maxRefs) throw new AMFError(ErrorCode.tooLarge, 'amf0: reference table full', at);
    this.refs0.push(v);
  }

  props0(o, depth, at) {
    for (;;) {
      const kat = this.off;
      this.need(2, 'amf0: truncated object key', kat);
      const n = this.u16();
      if (n === 0) {
        const end = this.u8();
        if (end === 0x09) return;
        throw new AMFError(ErrorCode.malformed, 'amf0: empty key not followed by object-end', kat);
      }
      const k = this.text(n, 'amf0: truncated object key', kat);
      setProp(o, k, this.amf0(depth + 1));
    }
  }

  u29() {
    let v = 0;
    for (let i = 0; i < 3; i++) {
      const b = this.u8();
      if (b < 0x80) return (v << 7) | b;
      v = (v << 7) | (b & 0x7f);
    }
    return ((v << 8) | this.u8()) >>> 0;
  }

  str3(at) {
    const h = this.u29();
    if ((h & 1) === 0) {
      const i = h >>> 1;
      if (i >= this.strs3.length) throw new AMFError(ErrorCode.badReference, `amf3: string reference ${i} out of range (table has ${this.strs3.length})`, at);
      return this.strs3[i];
    }
    const n = h >>> 1;
    if (n === 0) return '';
    const s = this.text(n, 'amf3: truncated string', at);
    if (this.strs3.length < this.lim.maxRefs) this.strs3.push(s);
    return s;
  }

  objRef(h, at) {
    const i = h >>> 1;
    if (i >= this.objs3.length) throw new AMFError(ErrorCode.badReference, `amf3: object reference ${i} out of range (table has ${this.objs3.length})`, at);
    return this.objs3[i];
  }

  addObj3(v, at) {
    if (this.objs3.length >= this.lim.maxRefs) throw new AMFError(ErrorCode.tooLarge, 'amf3: reference table full', at);
    this.objs3.push(v);
  }

  /** amf3 reads one AMF3 value. */
  amf3(depth = 0) {
    const at = this.off;
    this.count();
    if (this.remaining < 1) throw new AMFError(ErrorCode.truncated, 'amf3: truncated value', at);
    const m = this.u8();
    if (m === 0x09 || m === 0x0a || (m >= 0x0d && m <= 0x11)) this.depthCheck(depth, at);
    return this.value3(m, at, depth);
  }

  value3(m, at, depth) {
    switch (m) {
      case 0x00: return undefined;
      case 0x01: return null;
      case 0x02: return false;
      case 0x03: return true;
      case 0x04: { const u = this.u29(); return u & 0x10000000 ? u - 0x20000000 : u; }
      case 0x05: return this.f64();
      case 0x06: return this.str3(at + 1);
      case 0x07: case 0x0b: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const x = m === 0x0b ? new XML(this.text(h >>> 1, 'amf3: truncated XML', at + 1)) : new XMLDocument(this.text(h >>> 1, 'amf3: truncated XML', at + 1));
        this.addObj3(x, at);
        return x;
      }
      case 0x08: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const d = new Date(this.f64());
        this.addObj3(d, at);
        return d;
      }
      case 0x09: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const n = h >>> 1;
        if (n > this.remaining) throw new AMFError(ErrorCode.truncated, `amf3: array count ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
        const a = [];
        this.addObj3(a, at);
        for (;;) {
          const k = this.str3(this.off);
          if (k === '') break;
          setProp(a, k, this.amf3(depth + 1));
        }
        for (let i = 0; i < n; i++) a.push(this.amf3(depth + 1));
        return a;
      }
      case 0x0a: return this.object3(at, depth);
      case 0x0c: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const n = h >>> 1;
        if (n > this.remaining) throw new AMFError(ErrorCode.truncated, `amf3: ByteArray: length ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
        if (n > this.lim.maxStringLen) throw new AMFError(ErrorCode.tooLarge, `amf3: ByteArray of ${n} bytes`, at + 1);
        const b = this.b.slice(this.off, this.off + n);
        this.off += n;
        this.addObj3(b, at);
        return b;
      }
      case 0x0d: case 0x0e: case 0x0f: case 0x10: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const n = h >>> 1;
        const kind = { 0x0d: 'int', 0x0e: 'uint', 0x0f: 'double', 0x10: 'object' }[m];
        const size = { int: 4, uint: 4, double: 8, object: 1 }[kind];
        const label = { int: 'Vector.<int>', uint: 'Vector.<uint>', double: 'Vector.<Number>', object: 'Vector.<Object>' }[kind];
        if (n * size + 1 > this.remaining) throw new AMFError(ErrorCode.truncated, `amf3: ${label} count ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
        const fixed = this.u8() !== 0;
        const vec = new Vector(kind, [], { fixed });
        this.addObj3(vec, at);
        if (kind === 'object') vec.typeName = this.str3(this.off);
        for (let i = 0; i < n; i++) {
          switch (kind) {
            case 'int': vec.items.push(this.v.getInt32(this.off)); this.off += 4; break;
            case 'uint': vec.items.push(this.v.getUint32(this.off)); this.off += 4; break;
            case 'double': vec.items.push(this.v.getFloat64(this.off)); this.off += 8; break;
            default: vec.items.push(this.amf3(depth + 1));
          }
        }
        return vec;
      }
      case 0x11: {
        const h = this.u29();
        if ((h & 1) === 0) return this.objRef(h, at);
        const n = h >>> 1;
        if (n * 2 > this.remaining) throw new AMFError(ErrorCode.truncated, `amf3: Dictionary entry count ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
        const d = new Dictionary(undefined, this.u8() !== 0);
        this.addObj3(d, at);
        for (let i = 0; i < n; i++) {
          const k = this.amf3(depth + 1);
          d.set(k, this.amf3(depth + 1));
        }
        return d;
      }
      default:
        throw new AMFError(ErrorCode.unknownMarker, `amf3: unknown marker 0x${m.toString(16).padStart(2, '0')}`, at);
    }
  }

  object3(at, depth) {
    const h = this.u29();
    if ((h & 1) === 0) return this.objRef(h, at);
    let t;
    if ((h & 2) === 0) {
      const i = h >>> 2;
      if (i >= this.traits3.length) throw new AMFError(ErrorCode.badReference, `amf3: traits reference ${i} out of range (table has ${this.traits3.length})`, at);
      t = this.traits3[i];
    } else if ((h & 4) !== 0) {
      const cls = this.str3(this.off);
      if (cls !== ARRAY_COLLECTION && cls !== OBJECT_PROXY) {
        throw new AMFError(ErrorCode.unsupported, `amf3: externalizable class ${JSON.stringify(cls)} not supported`, at);
      }
      t = new Traits(cls, [], false, true);
      this.traits3.push(t);
    } else {
      const n = h >>> 4;
      if (n > this.remaining) throw new AMFError(ErrorCode.truncated, `amf3: sealed member count ${n} exceeds remaining ${this.remaining} bytes`, at + 1);
      const cls = this.str3(this.off);
      const sealed = [];
      for (let i = 0; i < n; i++) sealed.push(this.str3(this.off));
      t = new Traits(cls, sealed, (h & 8) !== 0);
      this.traits3.push(t);
    }
    const o = {};
    if (t.className !== '') o[amfClass] = t.className;
    if (t.sealed.length > 0 || t.externalizable || (t.className !== '' && !t.dynamic)) o[amfTraits] = t;
    this.addObj3(o, at);
    if (t.externalizable) {
      o[amfTraits] = t;
      o.source = this.amf3(depth + 1);
      return o;
    }
    for (const s of t.sealed) setProp(o, s, this.amf3(depth + 1));
    if (t.dynamic) {
      for (;;) {
        const k = this.str3(this.off);
        if (k === '') break;
        setProp(o, k, this.amf3(depth + 1));
      }
    }
    return o;
  }
}

/** decodeAMF0 reads all the AMF0 values of a body (a 0x11 switch reads one AMF3 value). */
export function decodeAMF0(bytes, limits) {
  const d = new Decoder(bytes, limits);
  const out = [];
  while (d.remaining > 0) out.push(d.amf0());
  return out;
}

/** decodeAMF3 reads one AMF3 value and returns it. */
export function decodeAMF3(bytes, limits) {
  const d = new Decoder(bytes, limits);
  const v = d.amf3();
  return v;
}
