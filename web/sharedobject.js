// Remote shared objects (docs/shared-objects.md): the message codec, which
// mirrors the server's sharedobject/wire with the same vectors, and
// Flash's SharedObject class in idiomatic JavaScript.

import { ByteWriter, Decoder, Encoder } from './amf.js';
import { MessageType } from './chunk.js';
import { CSID } from './rtmp.js';
import { AsyncErrorEvent, NetStatusEvent, statusInfo } from './netconnection.js';

/** Shared-object event types (docs/shared-objects.md#events). */
export const SOEvent = Object.freeze({
  use: 1,
  release: 2,
  requestChange: 3,
  change: 4,
  success: 5,
  sendMessage: 6,
  status: 7,
  clear: 8,
  remove: 9,
  requestRemove: 10,
  useSuccess: 11,
});

/** The flags bit of a server-persistent object. */
export const FLAG_PERSISTENT = 0x02;

/** SOError: a message that breaks docs/shared-objects.md#reading-events. */
export class SOError extends Error {
  constructor(code, message) {
    super(`sharedobject: ${message}`);
    this.name = 'SOError';
    this.code = code; // 'truncated' or 'malformed'
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/**
 * parseSOMessage decodes a shared-object body: type 16 (amf3, one leading
 * format byte) or type 19. Returns {name, version, flags, events}; events
 * are {type, key, value, level, args, raw}.
 */
export function parseSOMessage(p, amf3 = false) {
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let off = amf3 ? 1 : 0;
  if (amf3 && p.length < 1) throw new SOError('truncated', 'empty type-16 body');
  if (p.length - off < 2) throw new SOError('truncated', `name length at offset ${off}`);
  const n = dv.getUint16(off);
  off += 2;
  if (p.length - off < n + 12) throw new SOError('truncated', `header needs ${n + 12} bytes, ${p.length - off} remain at offset ${off}`);
  const msg = { name: utf8d.decode(p.subarray(off, off + n)), version: 0, flags: 0, events: [] };
  off += n;
  msg.version = dv.getUint32(off);
  msg.flags = dv.getUint32(off + 4);
  off += 12;
  while (off < p.length) {
    if (p.length - off < 5) throw new SOError('truncated', `event header needs 5 bytes, ${p.length - off} remain at offset ${off}`);
    const type = p[off];
    const len = dv.getUint32(off + 1);
    const start = off + 5;
    if (len > p.length - start) throw new SOError('truncated', `event type ${type} length ${len} exceeds remaining ${p.length - start} bytes at offset ${off}`);
    parseEvent(type, p.subarray(start, start + len), msg.events);
    off = start + len;
  }
  return msg;
}

function key(data, off) {
  if (data.length - off < 2) throw new SOError('malformed', `key length at offset ${off}`);
  const n = (data[off] << 8) | data[off + 1];
  off += 2;
  if (data.length - off < n) throw new SOError('malformed', `key length ${n} exceeds remaining ${data.length - off} bytes at offset ${off - 2}`);
  return [utf8d.decode(data.subarray(off, off + n)), off + n];
}

function parseEvent(type, data, out) {
  switch (type) {
    case SOEvent.use: case SOEvent.release: case SOEvent.clear: case SOEvent.useSuccess:
      out.push({ type });
      return;
    case SOEvent.requestChange: case SOEvent.change: {
      if (data.length === 0) throw new SOError('malformed', 'no key/value pair');
      for (let off = 0; off < data.length;) {
        let k;
        [k, off] = key(data, off);
        const d = new Decoder(data.subarray(off));
        let value;
        try {
          value = d.amf0();
        } catch (err) {
          throw new SOError('malformed', `value of ${JSON.stringify(k)} at offset ${off}: ${err.message}`);
        }
        off += d.off;
        out.push({ type, key: k, value });
      }
      return;
    }
    case SOEvent.success: case SOEvent.remove: case SOEvent.requestRemove: {
      if (data.length === 0) throw new SOError('malformed', 'no key');
      for (let off = 0; off < data.length;) {
        let k;
        [k, off] = key(data, off);
        out.push({ type, key: k });
      }
      return;
    }
    case SOEvent.status: {
      const [code, off] = key(data, 0);
      const [level, end] = key(data, off);
      if (end !== data.length) throw new SOError('malformed', `${data.length - end} bytes after the status level`);
      out.push({ type, key: code, level });
      return;
    }
    case SOEvent.sendMessage: {
      const d = new Decoder(data);
      const args = [];
      let h;
      try {
        h = d.amf0();
        if (typeof h !== 'string') throw new SOError('malformed', 'handler is not a string');
        while (d.remaining > 0) args.push(d.amf0());
      } catch (err) {
        if (err instanceof SOError) throw err;
        throw new SOError('malformed', `send message: ${err.message}`);
      }
      out.push({ type, key: h, args });
      return;
    }
    default:
      out.push({ type, raw: data.slice() });
  }
}

/** encodeSOMessage writes a shared-object body (type 16 with amf3, else 19). */
export function encodeSOMessage({ name, version = 0, flags = 0, events = [] }, amf3 = false) {
  const w = new ByteWriter(64);
  if (amf3) w.u8(0);
  const nb = utf8.encode(name);
  if (nb.length > 0xffff) throw new SOError('too-long', `name of ${nb.length} bytes`);
  w.u16(nb.length);
  w.bytes(nb);
  w.u32(version);
  w.u32(flags);
  w.u32(0);
  for (const ev of events) {
    w.u8(ev.type);
    const lenAt = w.length;
    w.u32(0);
    const start = w.length;
    const e = new Encoder(w);
    switch (ev.type) {
      case SOEvent.requestChange: case SOEvent.change:
        e.key0(ev.key); e.amf0(ev.value);
        break;
      case SOEvent.success: case SOEvent.remove: case SOEvent.requestRemove:
        e.key0(ev.key);
        break;
      case SOEvent.status:
        e.key0(ev.key); e.key0(ev.level);
        break;
      case SOEvent.sendMessage:
        e.amf0(String(ev.key));
        for (const a of ev.args ?? []) e.amf0(a);
        break;
      default:
        if (ev.raw) w.bytes(ev.raw);
    }
    w.view.setUint32(lenAt, w.length - start);
  }
  return w.result().slice();
}

/** SyncEvent carries Flash's changeList: [{code, name, oldValue}]. */
export class SyncEvent extends Event {
  constructor(changeList) {
    super('sync');
    this.changeList = changeList;
  }
}

const registry = new Map(); // "uri|name|persistent" -> SharedObject

function isDeleted(v) { return v === null || v === undefined; }

/**
 * SharedObject is a remote shared object.
 *
 *   const so = SharedObject.getRemote('chat', nc.uri, false);
 *   so.addEventListener('sync', (e) => render(so.data, e.changeList));
 *   so.client = { newLine(text) { ... } };        // handlers for send()
 *   await so.connect(nc);
 *   so.setProperty('topic', 'Go');               // null deletes the slot
 *   so.send('newLine', 'hello');
 *
 * Events: 'sync' (SyncEvent) once per server message, 'netStatus' for
 * SharedObject.* status codes, 'asyncError' (AsyncErrorEvent) for a
 * message whose handler is missing or threw.
 */
export class SharedObject extends EventTarget {
  /**
   * getRemote returns the shared object of that name for the URI: the
   * same instance for the same name, URI and persistence, as in Flash.
   * persistent: false (temporary) or true (persistent on the server).
   */
  static getRemote(name, uri, persistent = false) {
    const k = `${uri}|${name}|${persistent ? 1 : 0}`;
    let so = registry.get(k);
    if (!so) {
      so = new SharedObject(name, uri, !!persistent);
      registry.set(k, so);
    }
    return so;
  }

  constructor(name, uri, persistent) {
    super();
    this.name = String(name);
    this.uri = uri;
    this.persistent = persistent;
    /** The slots, as last synchronised (read only: change them with setProperty). */
    this.data = {};
    /** The object whose methods send() messages invoke; defaults to this object. */
    this.client = this;
    this.version = 0;
    this.nc = null;
    this.used = false; // Use sent on the current connection
    this.pendingChanges = new Map(); // slot -> pending request (change or remove)
    this.outbox = []; // events waiting for the next flush
    this.flushQueued = false;
    this.firstSync = null;
  }

  /**
   * connect subscribes through a connected NetConnection. It resolves at
   * the first sync (the object's state has arrived).
   */
  connect(nc) {
    if (this.nc && this.nc !== nc) this.nc.sharedObjects.delete(this);
    this.nc = nc;
    nc.sharedObjects.add(this);
    const p = new Promise((resolve, reject) => { this.firstSync = { resolve, reject }; });
    if (nc.connected) this.onConnectionReady(nc);
    return p;
  }

  onConnectionReady(nc) {
    if (nc !== this.nc || this.used) return;
    this.used = true;
    // A temporary object starts over on every connection; a persistent one
    // sends the version it saw, so the server may answer with a delta.
    if (!this.persistent) this.version = 0;
    this.outbox.unshift({ type: SOEvent.use });
    this.queueFlush();
  }

  onConnectionClosed(nc) {
    if (nc !== this.nc) return;
    this.used = false;
    this.pendingChanges.clear();
    this.outbox = [];
    if (this.firstSync) {
      this.firstSync.reject(statusInfo('NetConnection.Connect.Closed', 'status', 'The connection closed before the shared object synchronised.'));
      this.firstSync = null;
    }
  }

  /** setProperty changes a slot; null or undefined deletes it. The local copy changes at once. */
  setProperty(name, value) {
    name = String(name);
    if (isDeleted(value)) {
      delete this.data[name];
      this.pendingChanges.set(name, 'remove');
      this.outbox.push({ type: SOEvent.requestRemove, key: name });
    } else {
      this.data[name] = value;
      this.pendingChanges.set(name, 'change');
      this.outbox.push({ type: SOEvent.requestChange, key: name, value });
    }
    this.queueFlush();
  }

  /** setDirty resends a slot whose value was changed in place. */
  setDirty(name) {
    if (Object.hasOwn(this.data, name)) this.setProperty(name, this.data[name]);
  }

  /** send calls handler(...args) on every subscriber's client, this one included. */
  send(handler, ...args) {
    this.outbox.push({ type: SOEvent.sendMessage, key: String(handler), args });
    this.queueFlush();
  }

  /** close stops using the object (Release). */
  close() {
    if (this.used && this.nc?.connected) {
      this.outbox.push({ type: SOEvent.release });
      this.flush();
    }
    this.used = false;
    this.nc?.sharedObjects.delete(this);
    this.nc = null;
  }

  queueFlush() {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Changes of one task go in one message, as Flash Player batches per frame.
    queueMicrotask(() => this.flush());
  }

  flush() {
    this.flushQueued = false;
    const nc = this.nc;
    if (!nc || !nc.connected || !this.used || this.outbox.length === 0) return;
    const events = this.outbox;
    this.outbox = [];
    const body = encodeSOMessage({
      name: this.name, version: this.version, flags: this.persistent ? FLAG_PERSISTENT : 0, events,
    }, nc.amf3);
    nc.socket?.send({ csid: CSID.command, type: nc.amf3 ? MessageType.sharedObject3 : MessageType.sharedObject }, body);
  }

  /** handleMessage takes a shared-object message if it is this object's. */
  handleMessage(m) {
    let msg;
    try {
      msg = parseSOMessage(m.payload, m.type === MessageType.sharedObject3);
    } catch (err) {
      this.nc?.socket?.fail(err);
      return true;
    }
    if (msg.name !== this.name || ((msg.flags & FLAG_PERSISTENT) !== 0) !== this.persistent) return false;
    this.apply(msg);
    return true;
  }

  apply(msg) {
    const changes = [];
    const sends = [];
    this.version = msg.version;
    for (const ev of msg.events) {
      switch (ev.type) {
        case SOEvent.useSuccess:
          break;
        case SOEvent.clear:
          for (const k of Object.keys(this.data)) delete this.data[k];
          this.pendingChanges.clear();
          changes.push({ code: 'clear' });
          break;
        case SOEvent.change: {
          const oldValue = this.data[ev.key];
          const pending = this.pendingChanges.get(ev.key);
          this.data[ev.key] = ev.value;
          if (pending) {
            // The server refused or superseded our change: its value wins.
            this.pendingChanges.delete(ev.key);
            changes.push({ code: 'reject', name: ev.key, oldValue });
          } else {
            changes.push({ code: 'change', name: ev.key, oldValue });
          }
          break;
        }
        case SOEvent.success:
          this.pendingChanges.delete(ev.key);
          changes.push({ code: 'success', name: ev.key, oldValue: this.data[ev.key] });
          break;
        case SOEvent.remove: {
          const oldValue = this.data[ev.key];
          delete this.data[ev.key];
          this.pendingChanges.delete(ev.key);
          changes.push({ code: 'delete', name: ev.key, oldValue });
          break;
        }
        case SOEvent.sendMessage:
          sends.push(ev);
          break;
        case SOEvent.status:
          this.dispatchEvent(new NetStatusEvent(statusInfo(ev.key, ev.level, ev.key)));
          break;
        default:
          break;
      }
    }
    if (changes.length > 0) {
      this.dispatchEvent(new SyncEvent(changes));
      if (this.firstSync) {
        this.firstSync.resolve();
        this.firstSync = null;
      }
    } else if (this.firstSync && msg.events.some((e) => e.type === SOEvent.useSuccess)) {
      // Up to date already (a persistent object at the server's version).
      this.dispatchEvent(new SyncEvent([]));
      this.firstSync.resolve();
      this.firstSync = null;
    }
    for (const ev of sends) this.invoke(ev.key, ev.args);
  }

  invoke(handler, args) {
    const target = this.client;
    const fn = target?.[handler];
    if (typeof fn !== 'function' || (target === this && handler in SharedObject.prototype)) {
      this.dispatchEvent(new AsyncErrorEvent(new Error(`SharedObject ${this.name}: a message for ${handler}, which the client object does not define`)));
      return;
    }
    try {
      fn.apply(target, args);
    } catch (err) {
      this.dispatchEvent(new AsyncErrorEvent(err));
    }
  }
}
