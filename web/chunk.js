// The RTMP chunk stream (docs/rtmp.md#chunk-stream): ChunkWriter cuts
// messages into chunks, ChunkReader reassembles them from bytes that may
// arrive split at any point (WebSocket messages mean nothing). Both mirror
// the server's rtmp/chunk package, header compression choices included, so
// the same hex vectors hold on both sides.

import { ByteWriter } from './amf.js';

/** Message type ids (docs/rtmp.md#message-types). */
export const MessageType = Object.freeze({
  setChunkSize: 1,
  abort: 2,
  ack: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  data3: 15,
  sharedObject3: 16,
  command3: 17,
  data: 18,
  sharedObject: 19,
  command: 20,
  aggregate: 22,
});

/** Protocol constants (docs/rtmp.md#chunk-stream). */
export const MIN_CSID = 2;
export const MAX_CSID = 65599;
export const MAX_LENGTH = 0xffffff;
export const DEFAULT_CHUNK_SIZE = 128;
export const MAX_CHUNK_SIZE_FIELD = 0x7fffffff;

/** Reader limits, the server's defaults: what a peer may make us hold. */
export const defaultChunkLimits = Object.freeze({
  maxChunkSize: 16 << 20,
  maxMessageSize: 16 << 20,
  maxCSIDs: 256,
  maxPendingBytes: 32 << 20,
});

const EXTENDED_TS = 0xffffff;
const MSG_HEADER_LEN = [11, 7, 3, 0];

/** ChunkError is a fatal chunk stream error; code says which rule broke. */
export class ChunkError extends Error {
  constructor(code, message) {
    super(`chunk: ${message}`);
    this.name = 'ChunkError';
    this.code = code;
  }
}

/**
 * ChunkWriter encodes messages into chunks for one connection's outgoing
 * direction. It keeps the per-csid state that header compression depends
 * on, so every message must go through the same writer in wire order.
 */
export class ChunkWriter {
  constructor() {
    this.chunkSize = DEFAULT_CHUNK_SIZE;
    this.states = new Map(); // csid -> {streamId, ts, length, type}
  }

  /**
   * setChunkSize changes the size of later chunks. Send the Set Chunk Size
   * message through this writer first: the peer applies the size after it.
   */
  setChunkSize(n) {
    if (!(n >= 1 && n <= MAX_CHUNK_SIZE_FIELD)) throw new RangeError(`chunk size ${n} out of range`);
    this.chunkSize = n;
  }

  /**
   * write appends one message to w (a ByteWriter). header: {csid, timestamp,
   * type, streamId}; the timestamp is absolute, in ms, modulo 2^32.
   */
  write(w, { csid, timestamp = 0, type, streamId = 0 }, payload) {
    if (!(csid >= MIN_CSID && csid <= MAX_CSID)) throw new RangeError(`csid ${csid} out of range`);
    const n = payload.length;
    if (n > MAX_LENGTH) throw new ChunkError('message-too-large', `${n} bytes of type ${type} on csid ${csid}, the length field holds ${MAX_LENGTH}`);
    timestamp >>>= 0;
    let st = this.states.get(csid);
    let form = 0;
    let field = timestamp; // fmt 0: absolute; fmt 1/2: delta
    if (!st) {
      st = {};
      this.states.set(csid, st);
    } else {
      const delta = (timestamp - st.ts) >>> 0;
      // Same msid and time not going backwards (serial arithmetic).
      if (st.streamId === streamId && (delta | 0) >= 0) {
        field = delta;
        form = st.type === type && st.length === n ? 2 : 1;
      }
    }
    Object.assign(st, { streamId, ts: timestamp, length: n, type });
    const ext = field >= EXTENDED_TS;
    basicHeader(w, form, csid);
    if (form <= 2) w.u24(ext ? EXTENDED_TS : field);
    if (form <= 1) { w.u24(n); w.u8(type); }
    if (form === 0) w.u32le(streamId);
    if (ext) w.u32(field);
    for (let off = 0; ;) {
      const k = Math.min(this.chunkSize, n - off);
      w.bytes(payload.subarray(off, off + k));
      off += k;
      if (off >= n) return;
      basicHeader(w, 3, csid);
      if (ext) w.u32(field); // repeated on every continuation (docs/rtmp.md#extended-timestamps)
    }
  }

  /** encode returns one message's chunks as a new array. */
  encode(header, payload) {
    const w = new ByteWriter(payload.length + 32);
    this.write(w, header, payload);
    return w.result().slice();
  }
}

function basicHeader(w, form, csid) {
  if (csid < 64) {
    w.u8((form << 6) | csid);
  } else if (csid < 320) {
    w.u8(form << 6); w.u8(csid - 64);
  } else {
    const v = csid - 64;
    w.u8((form << 6) | 1); w.u8(v & 0xff); w.u8(v >> 8);
  }
}

/**
 * ChunkReader reassembles messages from a chunk stream fed by push().
 * Set Chunk Size and Abort are applied before they are returned. Any error
 * is fatal: the stream cannot be resynchronised.
 */
export class ChunkReader {
  constructor(limits = {}) {
    this.lim = { ...defaultChunkLimits, ...limits };
    this.chunkSize = DEFAULT_CHUNK_SIZE;
    this.bytesRead = 0; // every header and payload byte parsed, for Acknowledgements
    this.states = new Map();
    this.pending = 0; // declared lengths of messages being reassembled
    this.buf = new Uint8Array(4096);
    this.start = 0;
    this.end = 0;
    this.cur = null; // the state whose chunk data is being read
    this.chunkLeft = 0;
    this.failed = null;
  }

  /** push adds bytes and returns the messages they complete: [{csid, timestamp, length, type, streamId, payload}]. */
  push(bytes) {
    if (this.failed) throw this.failed;
    this.append(bytes);
    const out = [];
    try {
      for (;;) {
        if (this.cur) {
          if (!this.readData(out)) break;
          continue;
        }
        if (!this.readHeader()) break;
      }
    } catch (err) {
      this.failed = err;
      throw err;
    }
    this.compact();
    return out;
  }

  append(bytes) {
    if (bytes.length === 0) return;
    if (this.end + bytes.length > this.buf.length) {
      const have = this.end - this.start;
      if (have + bytes.length <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let size = this.buf.length;
        while (size < have + bytes.length) size *= 2;
        const nb = new Uint8Array(size);
        nb.set(this.buf.subarray(this.start, this.end));
        this.buf = nb;
      }
      this.start = 0;
      this.end = have;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  compact() {
    if (this.start === this.end) { this.start = this.end = 0; }
  }

  get avail() { return this.end - this.start; }

  u24(at) { const b = this.buf; return (b[at] << 16) | (b[at + 1] << 8) | b[at + 2]; }
  u32(at) { const b = this.buf; return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0; }
  u32le(at) { const b = this.buf; return ((b[at + 3] << 24) | (b[at + 2] << 16) | (b[at + 1] << 8) | b[at]) >>> 0; }

  // readHeader parses one chunk header if it is complete and returns
  // whether it did; nothing is consumed otherwise.
  readHeader() {
    if (this.avail < 1) return false;
    let p = this.start;
    const b0 = this.buf[p++];
    const form = b0 >> 6;
    let csid = b0 & 0x3f;
    if (csid === 0) {
      if (this.avail < 2) return false;
      csid = 64 + this.buf[p++];
    } else if (csid === 1) {
      if (this.avail < 3) return false;
      csid = 64 + this.buf[p] + (this.buf[p + 1] << 8);
      p += 2;
    }
    let st = this.states.get(csid);
    if (!st) {
      if (form >= 2) throw new ChunkError('no-previous-header', `fmt ${form} on csid ${csid} with no previous header`);
      if (this.states.size >= this.lim.maxCSIDs) throw new ChunkError('too-many-csids', `csid ${csid} would be number ${this.states.size + 1}, limit ${this.lim.maxCSIDs}`);
    }
    const hl = MSG_HEADER_LEN[form];
    if (this.end - p < hl) return false;
    const mh = p;
    p += hl;
    if (!st) {
      // A fmt 1 header on a new csid inherits msid 0 and time 0.
      st = { csid, streamId: 0, length: 0, type: 0, ts: 0, delta: 0, ext: false, extVal: 0, active: false, parts: null, have: 0 };
      this.states.set(csid, st);
    }
    let start = false;
    if (form < 3) {
      let field = this.u24(mh);
      const ext = field === EXTENDED_TS;
      if (ext) {
        if (this.end - p < 4) return false;
        field = this.u32(p);
        p += 4;
      }
      st.ext = ext;
      if (ext) st.extVal = field;
      if (st.active) this.drop(st); // a new header abandons the partial message
      if (form < 2) {
        st.length = this.u24(mh + 3);
        st.type = this.buf[mh + 6];
        if (form === 0) st.streamId = this.u32le(mh + 7);
      }
      st.ts = form === 0 ? field : (st.ts + field) >>> 0;
      st.delta = field;
      start = true;
    } else if (st.active) {
      // Continuation: strict peers repeat the extended timestamp, 2009-draft
      // ones do not; consume the 4 bytes only when they equal the stored value.
      if (st.ext) {
        if (this.end - p < 4) return false;
        if (this.u32(p) === st.extVal) p += 4;
      }
    } else {
      // fmt 3 starting a new message: everything repeats, the delta too.
      if (st.ext) {
        if (this.end - p < 4) return false;
        st.extVal = this.u32(p);
        st.delta = st.extVal;
        p += 4;
      }
      st.ts = (st.ts + st.delta) >>> 0;
      start = true;
    }
    if (start) {
      if (st.length > this.lim.maxMessageSize) throw new ChunkError('message-too-large', `csid ${csid} type ${st.type}: length ${st.length}, limit ${this.lim.maxMessageSize}`);
      if (this.pending + st.length > this.lim.maxPendingBytes) throw new ChunkError('pending-bytes', `csid ${csid} type ${st.type}: length ${st.length} on top of ${this.pending} pending, limit ${this.lim.maxPendingBytes}`);
      this.pending += st.length;
      st.active = true;
      st.parts = [];
      st.have = 0;
    }
    this.bytesRead += p - this.start;
    this.start = p;
    this.cur = st;
    this.chunkLeft = Math.min(st.length - st.have, this.chunkSize);
    return true;
  }

  drop(st) {
    this.pending -= st.length;
    st.parts = null;
    st.have = 0;
    st.active = false;
  }

  // readData copies what is available of the current chunk's data; it
  // returns false when it needs more bytes.
  readData(out) {
    const st = this.cur;
    const k = Math.min(this.chunkLeft, this.avail);
    if (k > 0) {
      st.parts.push(this.buf.slice(this.start, this.start + k));
      st.have += k;
      this.start += k;
      this.bytesRead += k;
      this.chunkLeft -= k;
    }
    if (this.chunkLeft > 0) return false;
    this.cur = null;
    if (st.have < st.length) return true;
    // The message is complete.
    const payload = st.parts.length === 1 ? st.parts[0] : joinParts(st.parts, st.length);
    this.pending -= st.length;
    st.parts = null;
    st.active = false;
    st.have = 0;
    const msg = { csid: st.csid, timestamp: st.ts, length: st.length, type: st.type, streamId: st.streamId, payload };
    if (msg.type === MessageType.setChunkSize) {
      if (payload.length < 4) throw new ChunkError('short-control', `Set Chunk Size with ${payload.length} bytes`);
      const n = ((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0;
      if (n === 0 || n > MAX_CHUNK_SIZE_FIELD || n > this.lim.maxChunkSize) {
        throw new ChunkError('chunk-size', `peer set ${n}, allowed 1..${Math.min(this.lim.maxChunkSize, MAX_CHUNK_SIZE_FIELD)}`);
      }
      this.chunkSize = n;
    } else if (msg.type === MessageType.abort) {
      if (payload.length < 4) throw new ChunkError('short-control', `Abort with ${payload.length} bytes`);
      const a = this.states.get(((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0);
      if (a && a.active) this.drop(a);
    }
    out.push(msg);
    return true;
  }
}

function joinParts(parts, n) {
  const b = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { b.set(p, off); off += p.length; }
  return b;
}
