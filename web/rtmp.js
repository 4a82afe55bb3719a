// One RTMP connection over a WebSocket whose binary messages carry the
// plain RTMP byte stream, handshake included (docs/bridge.md): the
// handshake, the chunk stream in both directions, protocol control and
// user control messages, and command/data bodies. NetConnection builds on
// it; nothing here knows about applications, streams or shared objects.
//
// States: 'new' -> 'handshake' -> 'open' -> 'closed'.

import { ByteWriter, Decoder, Encoder } from './amf.js';
import { ChunkReader, ChunkWriter, MessageType } from './chunk.js';
import { ClientHandshake } from './handshake.js';

/** User control event types (docs/rtmp.md#user-control-events). */
export const UserControl = Object.freeze({
  streamBegin: 0,
  streamEOF: 1,
  streamDry: 2,
  setBufferLength: 3,
  streamIsRecorded: 4,
  pingRequest: 6,
  pingResponse: 7,
  bufferEmpty: 31,
  bufferReady: 32,
});

/** Chunk stream ids this client uses, as Flash Player does. */
export const CSID = Object.freeze({ control: 2, command: 3, audio: 6, video: 7, data: 5, streamCommand: 8 });

/** The chunk size this client sends with (OBS's value); Set Chunk Size goes first. */
export const OUT_CHUNK_SIZE = 4096;

/** decodeCommand reads a command or data body (types 20/18, or 17/15 with their format byte). */
export function decodeBody(type, payload) {
  const p = type === MessageType.command3 || type === MessageType.data3 ? payload.subarray(1) : payload;
  const d = new Decoder(p);
  const values = [];
  while (d.remaining > 0) values.push(d.amf0());
  return values;
}

/**
 * encodeBody writes values as a command or data body. With amf3 the
 * values from index `plain` on go through the AMF3 switch, after a format
 * byte (types 17/15); the name and transaction id stay AMF0.
 */
export function encodeBody(values, { amf3 = false, plain = 0 } = {}) {
  const w = new ByteWriter(128);
  if (amf3) w.u8(0);
  const e = new Encoder(w);
  values.forEach((v, i) => {
    if (amf3 && i >= plain && v !== null && v !== undefined) e.switched(v); else e.amf0(v);
  });
  return w.result().slice();
}

function u32(v) {
  return new Uint8Array([v >>> 24, v >>> 16, v >>> 8, v]);
}

/**
 * RTMPSocket is one RTMP connection over a WebSocket. Incoming messages
 * other than protocol control reach onMessage(msg); user control events
 * reach onUserControl(type, data). Outgoing messages are batched per task
 * into one WebSocket message, as a TCP flush would be.
 */
export class RTMPSocket {
  constructor(url, { digest = true, WebSocketImpl = globalThis.WebSocket, limits } = {}) {
    this.url = url;
    this.digest = digest;
    this.WebSocketImpl = WebSocketImpl;
    this.state = 'new';
    this.reader = new ChunkReader(limits);
    this.writer = new ChunkWriter();
    this.out = new ByteWriter(8192);
    this.flushQueued = false;
    this.windowAckSize = 0; // the server's window: acknowledge after this many bytes
    this.lastAck = 0;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.onMessage = () => {};
    this.onUserControl = () => {};
    this.onClose = () => {};
    this.closeInfo = null;
  }

  /** open connects and runs the handshake; it resolves when chunks may flow. */
  open() {
    if (this.state !== 'new') return Promise.reject(new Error(`rtmp: open in state ${this.state}`));
    this.state = 'handshake';
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocketImpl(this.url);
      } catch (err) {
        this.state = 'closed';
        reject(err);
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      const hs = new ClientHandshake({ digest: this.digest });
      let opened = false;
      ws.onopen = () => {
        this.sendRaw(hs.start());
      };
      ws.onmessage = (ev) => {
        if (typeof ev.data === 'string') {
          this.fail(new Error('rtmp: the server sent a text message'));
          return;
        }
        const bytes = new Uint8Array(ev.data);
        this.bytesIn += bytes.length;
        if (this.state === 'handshake') {
          let res;
          try {
            res = hs.push(bytes);
          } catch (err) {
            this.fail(err);
            reject(err);
            return;
          }
          if (!res) return;
          this.state = 'open';
          opened = true;
          this.sendRaw(res.c2);
          // Our chunk size first, so everything after uses it.
          this.send({ csid: CSID.control, type: MessageType.setChunkSize }, u32(OUT_CHUNK_SIZE));
          this.writer.setChunkSize(OUT_CHUNK_SIZE);
          resolve(res.info);
          if (res.rest.length > 0) this.receive(res.rest);
          return;
        }
        if (this.state === 'open') this.receive(bytes);
      };
      ws.onerror = () => {
        // The close event follows with the code; an error before the
        // handshake rejects open() there.
      };
      ws.onclose = (ev) => {
        const info = this.closeInfo ?? { code: ev.code, reason: ev.reason, clean: ev.wasClean };
        if (!opened) reject(new Error(`rtmp: WebSocket ${this.url} closed before the handshake completed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`));
        this.finish(info);
      };
    });
  }

  receive(bytes) {
    let msgs;
    try {
      msgs = this.reader.push(bytes);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const m of msgs) {
      if (this.state !== 'open') return;
      try {
        this.dispatch(m);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.maybeAck();
  }

  dispatch(m) {
    const p = m.payload;
    switch (m.type) {
      case MessageType.setChunkSize:
      case MessageType.abort:
        return; // applied by the reader
      case MessageType.ack:
        return;
      case MessageType.windowAckSize:
        if (p.length >= 4) this.windowAckSize = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
        return;
      case MessageType.setPeerBandwidth:
        return;
      case MessageType.userControl: {
        if (p.length < 2) return;
        const ev = (p[0] << 8) | p[1];
        const data = p.subarray(2);
        if (ev === UserControl.pingRequest && data.length >= 4) {
          const w = new Uint8Array(6);
          w[1] = UserControl.pingResponse;
          w.set(data.subarray(0, 4), 2);
          this.send({ csid: CSID.control, type: MessageType.userControl }, w);
          return;
        }
        const streamId = data.length >= 4 ? ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0 : 0;
        this.onUserControl(ev, streamId, data);
        return;
      }
      default:
        this.onMessage(m);
    }
  }

  maybeAck() {
    const n = this.reader.bytesRead;
    if (this.windowAckSize > 0 && n - this.lastAck >= this.windowAckSize) {
      this.lastAck = n;
      this.send({ csid: CSID.control, type: MessageType.ack }, u32(n % 0x100000000));
    }
  }

  /** send queues one message; messages of one task leave in one WebSocket message. */
  send(header, payload) {
    if (this.state !== 'open') return false;
    this.writer.write(this.out, header, payload);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  /** flush sends what send() queued. */
  flush() {
    this.flushQueued = false;
    if (this.out.length === 0 || this.state !== 'open') return;
    this.sendRaw(this.out.result().slice());
    this.out.length = 0;
  }

  sendRaw(bytes) {
    if (!this.ws || this.ws.readyState !== 1) return;
    this.bytesOut += bytes.length;
    this.ws.send(bytes);
  }

  /** bufferedAmount is what the WebSocket has not sent yet, in bytes. */
  get bufferedAmount() {
    return (this.ws?.bufferedAmount ?? 0) + this.out.length;
  }

  /** setBufferLength sends SetBufferLength (user control 3) for a stream, ms. */
  setBufferLength(streamId, ms) {
    const w = new Uint8Array(10);
    const dv = new DataView(w.buffer);
    dv.setUint16(0, UserControl.setBufferLength);
    dv.setUint32(2, streamId);
    dv.setUint32(6, Math.max(0, Math.round(ms)));
    this.send({ csid: CSID.control, type: MessageType.userControl }, w);
  }

  fail(err) {
    if (this.state === 'closed') return;
    this.closeInfo = { code: 0, reason: err.message, error: err };
    this.close();
  }

  /** close ends the connection; onClose runs once. */
  close() {
    if (this.state === 'closed') return;
    if (this.flushQueued) this.flush();
    const ws = this.ws;
    this.state = 'closed';
    if (ws && ws.readyState <= 1) {
      try { ws.close(1000); } catch { /* already closing */ }
    }
    this.finish(this.closeInfo ?? { code: 1000, reason: 'closed by the client', clean: true });
  }

  finish(info) {
    this.state = 'closed';
    if (this.finished) return;
    this.finished = true;
    if (this.ws) {
      this.ws.onmessage = null;
      this.ws.onopen = null;
    }
    this.onClose(info);
  }
}
