// NetConnection: Flash's connection to an application instance, over RTMP
// carried by a WebSocket. Promises stand where Flash had responders, and
// EventTarget events where it had events; the status codes are FMS's
// (docs/rtmp.md#status-codes).

import { MessageType } from './chunk.js';
import { RTMPSocket, CSID, decodeBody, encodeBody, UserControl } from './rtmp.js';

/** The version of this library, sent in flashVer. */
export const VERSION = '1.0.0';

/** NetStatusEvent carries an info object {level, code, description, ...}. */
export class NetStatusEvent extends Event {
  constructor(info) {
    super('netStatus');
    this.info = info;
  }
}

/** AsyncErrorEvent reports a server call the client object could not take (Flash's AsyncErrorEvent). */
export class AsyncErrorEvent extends Event {
  constructor(error) {
    super('asyncError');
    this.error = error;
  }
}

/** statusInfo builds an info object. */
export function statusInfo(code, level, description, extra) {
  return { level, code, description, ...extra };
}

/**
 * resolveURI maps a NetConnection URI to the WebSocket to open and the
 * connect command's app and tcUrl.
 *
 * - rtmp://host[:port]/app[/instance] (also rtmps, rtmpt, rtmpts, rtmpe, and
 *   rtmp:/app without a host): the server that served the page, ws:// or
 *   wss:// as the page is http or https, at /rtmp.
 * - ws(s)://host[:port]/app[/instance] and rtmpws(s)://...: that server's /rtmp.
 * endpoint, when given, replaces the WebSocket URL whatever the URI.
 */
export function resolveURI(uri, { base = globalThis.location, endpoint = null } = {}) {
  const m = /^([a-z][a-z0-9+.-]*):(\/\/([^/?#]*))?(\/[^#]*)?$/i.exec(String(uri));
  if (!m) throw new TypeError(`NetConnection: cannot read URI ${JSON.stringify(uri)}`);
  const scheme = m[1].toLowerCase();
  const host = m[3] ?? '';
  const path = (m[4] ?? '/').replace(/^\/+/, '');
  let wsURL;
  switch (scheme) {
    case 'rtmp': case 'rtmps': case 'rtmpt': case 'rtmpts': case 'rtmpe': case 'rtmpte': {
      if (!endpoint) {
        if (!base || !base.host) throw new TypeError(`NetConnection: ${scheme}:// URIs connect to the page's server, and there is no page; use ws://host:port/app`);
        wsURL = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}/rtmp`;
      }
      break;
    }
    case 'ws': case 'rtmpws':
      if (!host) throw new TypeError(`NetConnection: ${uri} names no host`);
      wsURL = `ws://${host}/rtmp`;
      break;
    case 'wss': case 'rtmpwss':
      if (!host) throw new TypeError(`NetConnection: ${uri} names no host`);
      wsURL = `wss://${host}/rtmp`;
      break;
    default:
      throw new TypeError(`NetConnection: scheme ${scheme}: is not supported (rtmp, rtmps, rtmpt, ws, wss, rtmpws, rtmpwss)`);
  }
  return { wsURL: endpoint ?? wsURL, app: path, tcUrl: String(uri) };
}

function errorInfo(code, description, extra) {
  return statusInfo(code, 'error', description, extra);
}

/**
 * NetConnection connects to an application instance.
 *
 *   const nc = new NetConnection();
 *   nc.client = { notify(text) { ... } };          // methods the server may call
 *   const info = await nc.connect('rtmp://host/chat', 'alice');
 *   const sum = await nc.call('add', 2, 3);
 *
 * Events: 'netStatus' (NetStatusEvent), 'asyncError' (AsyncErrorEvent).
 */
export class NetConnection extends EventTarget {
  /** Default objectEncoding of new connections: 3 (AMF3), as in ActionScript 3. */
  static defaultObjectEncoding = 3;

  constructor() {
    super();
    this.objectEncoding = NetConnection.defaultObjectEncoding;
    /** The object whose methods server calls invoke; defaults to this connection. */
    this.client = this;
    /** A WebSocket URL to use instead of the one derived from the URI. */
    this.endpoint = null;
    /** Sign the handshake (the digest form); a server that does not sign gets the simple echo. */
    this.digestHandshake = true;
    this.uri = null;
    this.connected = false;
    this.protocol = null; // 'rtmpws' or 'rtmpwss' once connected
    this.farID = null; // the server's id of this client, from the connect result
    this.socket = null;
    this.txn = 1;
    this.pending = new Map(); // txn -> {resolve, reject, name}
    this.streams = new Map(); // stream id -> NetStream
    this.sharedObjects = new Set();
    this.connectPromise = null;
    /**
     * How long, ms, a server's NetConnection.Connect.ReconnectRequest is
     * acted on: the connection is made again to the same URI with the
     * same arguments until it succeeds or this time has passed
     * (docs/browser.md#reconnecting).
     */
    this.reconnectTimeout = 30000;
    this.connectArgs = [];
    this.reconnectTo = null; // the URI a ReconnectRequest named, until the close
    this.reconnectGen = 0; // close() ends a reconnection in progress
    this.reconnecting = false;
  }

  /** amf3 reports whether this connection sends AMF3 (types 17, 15, 16). */
  get amf3() { return this.objectEncoding === 3; }

  /**
   * connect opens the connection. It resolves with the connect info object
   * (code NetConnection.Connect.Success) and rejects with the info object
   * of a refusal (Rejected, InvalidApp, Failed...; a script's rejection
   * object is info.application) or of a failure to reach the server.
   */
  connect(uri, ...args) {
    if (this.socket) this.close();
    if (this.objectEncoding !== 0 && this.objectEncoding !== 3) {
      return Promise.reject(new RangeError(`objectEncoding ${this.objectEncoding}: want 0 or 3`));
    }
    let target;
    try {
      target = resolveURI(uri, { endpoint: this.endpoint });
    } catch (err) {
      return Promise.reject(err);
    }
    this.uri = String(uri);
    this.connectArgs = args;
    const sock = new RTMPSocket(target.wsURL, { digest: this.digestHandshake });
    this.socket = sock;
    this.txn = 1;
    sock.onMessage = (m) => this.onMessage(m);
    sock.onUserControl = (ev, id) => this.onUserControl(ev, id);
    let settle;
    const p = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    this.connectPromise = settle;
    sock.onClose = (info) => this.onSocketClose(sock, info);
    const cmd = {
      app: target.app,
      flashVer: `WEB ${VERSION.replace(/\./g, ',')},0 openfcs.js`,
      tcUrl: target.tcUrl,
      fpad: false,
      capabilities: 239,
      // Flash's codec masks, of what the decoders here take (flv.js):
      // raw PCM, MP3, G.711 A-law and mu-law, AAC; H.264. A server that
      // converts sends Sorenson, VP6, Nellymoser and Speex converted.
      audioCodecs: 0x0001 | 0x0004 | 0x0080 | 0x0100 | 0x0400,
      videoCodecs: 0x0080,
      videoFunction: 1,
      objectEncoding: this.objectEncoding,
      // Enhanced RTMP codecs the player parses (flv.js): a server sends
      // Opus, not a converted copy, only to clients that announce it.
      fourCcList: ['avc1', 'hvc1', 'av01', 'vp09', 'vp08', 'Opus', 'mp4a', '.mp3'],
      // E-RTMP capabilities: Reconnect, which a draining server answers
      // with NetConnection.Connect.ReconnectRequest (docs/rtmp.md#connect).
      capsEx: 0x01,
    };
    if (globalThis.location?.href) cmd.pageUrl = globalThis.location.href;
    sock.open().then((hs) => {
      if (this.socket !== sock) return;
      this.handshake = hs;
      this.protocol = target.wsURL.startsWith('wss:') ? 'rtmpwss' : 'rtmpws';
      this.pending.set(1, { name: 'connect', resolve: (r) => this.onConnectResult(r), reject: (r) => this.onConnectError(r) });
      // connect travels as type 20 even from AMF3 clients (docs/amf.md#message-bodies).
      this.txn = 2;
      sock.send({ csid: CSID.command, type: MessageType.command }, encodeBody(['connect', 1, cmd, ...args]));
    }, (err) => {
      if (this.socket !== sock) return;
      this.failConnect(errorInfo('NetConnection.Connect.Failed', err.message));
    });
    return p;
  }

  onConnectResult(values) {
    // "_result", 1, {fmsVer, capabilities, mode}, {level, code, ...}: the
    // info object comes fourth; also accept it third (some servers).
    const info = values.slice(2).reverse().find((v) => v && typeof v === 'object' && 'code' in v) ?? statusInfo('NetConnection.Connect.Success', 'status', 'Connection succeeded.');
    this.properties = values[2] && typeof values[2] === 'object' && !('code' in values[2]) ? values[2] : null;
    if (info.code !== 'NetConnection.Connect.Success') {
      this.onConnectError(values);
      return;
    }
    this.connected = true;
    this.farID = info.clientid ?? info.clientId ?? null;
    const settle = this.connectPromise;
    this.connectPromise = null;
    this.dispatchEvent(new NetStatusEvent(info));
    settle?.resolve(info);
    for (const so of this.sharedObjects) so.onConnectionReady(this);
  }

  onConnectError(values) {
    const info = values.slice(2).reverse().find((v) => v && typeof v === 'object' && 'code' in v) ??
      errorInfo('NetConnection.Connect.Rejected', 'Connection rejected.');
    this.failConnect(info);
  }

  failConnect(info) {
    const settle = this.connectPromise;
    this.connectPromise = null;
    // While reconnecting, each attempt's failure is not news: the
    // outcome is (reconnect).
    if (!this.reconnecting) this.dispatchEvent(new NetStatusEvent(info));
    settle?.reject(info);
    this.socket?.close();
  }

  /**
   * call invokes a server method (Client.prototype.name in main.asc). It
   * resolves with the method's result and rejects with the `_error` info
   * (NetConnection.Call.Failed) or when the connection closes first.
   */
  call(name, ...args) {
    if (!this.connected) {
      return Promise.reject(errorInfo('NetConnection.Call.Failed', `call(${name}): the connection is not connected`));
    }
    const txn = this.nextTxn();
    return new Promise((resolve, reject) => {
      this.pending.set(txn, { name, resolve: (v) => resolve(v[3]), reject: (v) => reject(v[3] ?? errorInfo('NetConnection.Call.Failed', `${name} failed`)) });
      this.sendCommand(0, [name, txn, null, ...args]);
    });
  }

  nextTxn() {
    const t = this.txn;
    this.txn = this.txn >= 0x7fffffff ? 2 : this.txn + 1;
    return t;
  }

  /** sendCommand sends a command on a message stream (0: the connection). */
  sendCommand(streamId, values) {
    if (!this.socket) return false;
    const type = this.amf3 ? MessageType.command3 : MessageType.command;
    const csid = streamId === 0 ? CSID.command : CSID.streamCommand;
    return this.socket.send({ csid, type, streamId }, encodeBody(values, { amf3: this.amf3, plain: 3 }));
  }

  /**
   * sendData sends a data message (NetStream.send) on a stream. Data goes
   * as type 18 in AMF0 on every connection, values without an AMF0 form
   * switched one by one: the server relays data to players such as ffmpeg
   * that read AMF0 only.
   */
  sendData(streamId, values, timestamp = 0) {
    if (!this.socket) return false;
    return this.socket.send({ csid: CSID.data, type: MessageType.data, streamId, timestamp }, encodeBody(values));
  }

  /** createStream asks for a message stream id (NetStream does it). */
  createStream() {
    const txn = this.nextTxn();
    return new Promise((resolve, reject) => {
      this.pending.set(txn, { name: 'createStream', resolve: (v) => resolve(v[3]), reject: (v) => reject(v[3]) });
      this.sendCommand(0, ['createStream', txn, null]);
    });
  }

  onMessage(m) {
    switch (m.type) {
      case MessageType.command: case MessageType.command3:
        this.onCommand(m, decodeBody(m.type, m.payload));
        return;
      case MessageType.sharedObject: case MessageType.sharedObject3:
        for (const so of this.sharedObjects) {
          if (so.handleMessage(m)) return;
        }
        return;
      default: {
        const ns = this.streams.get(m.streamId);
        if (ns) ns.onMessage(m);
      }
    }
  }

  onCommand(m, values) {
    const [name, txn] = values;
    if (name === '_result' || name === '_error') {
      const p = this.pending.get(txn);
      if (!p) return;
      this.pending.delete(txn);
      if (name === '_result') p.resolve(values); else p.reject(values);
      return;
    }
    if (m.streamId !== 0) {
      const ns = this.streams.get(m.streamId);
      if (ns) ns.onCommand(name, values.slice(3));
      return;
    }
    if (name === 'onStatus') {
      const info = values.find((v, i) => i >= 2 && v && typeof v === 'object');
      if (info?.code === 'NetConnection.Connect.ReconnectRequest') {
        // The server is going (a drain): make the connection again when
        // it closes, to tcUrl if it names one, else to the same URI.
        this.reconnectTo = typeof info.tcUrl === 'string' && info.tcUrl ? info.tcUrl : this.uri;
      }
      if (info) this.dispatchEvent(new NetStatusEvent(info));
      return;
    }
    if (name === 'close') { // FMS's request to close
      this.close();
      return;
    }
    this.invokeClient(name, txn, values.slice(3));
  }

  // invokeClient runs a server call on the client object and answers it
  // when the server asked for a result (a non-zero transaction).
  invokeClient(name, txn, args) {
    let target = this.client;
    let fn;
    const path = String(name).split('/');
    for (let i = 0; target && i < path.length - 1; i++) target = target[path[i]];
    const method = path[path.length - 1];
    if (target && method !== 'constructor') fn = target[method];
    // The connection's own methods (close, call, addEventListener...) are
    // not the server's to call when the client object is the connection.
    if (typeof fn !== 'function' || (target === this && method in NetConnection.prototype)) {
      this.dispatchEvent(new AsyncErrorEvent(new Error(`NetConnection: the server called ${name}, which the client object does not define`)));
      if (txn) this.sendCommand(0, ['_error', txn, null, errorInfo('NetConnection.Call.Failed', `Method not found (${name}).`)]);
      return;
    }
    Promise.resolve().then(() => fn.apply(target, args)).then((result) => {
      if (txn) this.sendCommand(0, ['_result', txn, null, result]);
    }, (err) => {
      this.dispatchEvent(new AsyncErrorEvent(err));
      if (txn) this.sendCommand(0, ['_error', txn, null, errorInfo('NetConnection.Call.Failed', String(err?.message ?? err))]);
    });
  }

  onUserControl(ev, streamId) {
    const ns = this.streams.get(streamId);
    if (ns) ns.onUserControl(ev);
    if (ev === UserControl.streamBegin && streamId === 0) this.streamBeginSeen = true;
  }

  onSocketClose(sock, info) {
    if (this.socket !== sock) return;
    this.socket = null;
    const wasConnected = this.connected;
    this.connected = false;
    const failure = errorInfo('NetConnection.Call.Failed', 'The connection closed.');
    for (const [, p] of this.pending) {
      if (p.name !== 'connect') p.reject([null, 0, null, failure]);
    }
    this.pending.clear();
    const reconnectTo = wasConnected ? this.reconnectTo : null;
    this.reconnectTo = null;
    if (reconnectTo) {
      for (const so of this.sharedObjects) so.onConnectionClosed(this);
      this.reconnect(reconnectTo);
      return;
    }
    for (const ns of this.streams.values()) ns.onConnectionClosed();
    for (const so of this.sharedObjects) so.onConnectionClosed(this);
    if (this.connectPromise) {
      const reason = info?.reason ? `: ${info.reason}` : '';
      this.failConnect(errorInfo('NetConnection.Connect.Failed', `The connection to ${this.uri} failed${reason}.`));
      return;
    }
    if (!this.reconnecting && (wasConnected || info?.error)) {
      this.dispatchEvent(new NetStatusEvent(statusInfo('NetConnection.Connect.Closed', 'status',
        info?.error ? `The connection closed: ${info.error.message}` : 'The connection closed.')));
    }
  }

  /**
   * reconnect makes the connection again after a ReconnectRequest: the
   * same arguments, every NetStream playing or publishing again on a new
   * stream id, every SharedObject synchronised again (it asks to use the
   * object on each Connect.Success). The page sees the server's
   * ReconnectRequest and AppShutdown, then a Connect.Success, or, after
   * reconnectTimeout, Connect.Closed.
   */
  async reconnect(uri) {
    const gen = ++this.reconnectGen;
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const ns of streams) ns.onConnectionSuspended();
    this.reconnecting = true;
    const until = performance.now() + this.reconnectTimeout;
    for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (gen !== this.reconnectGen) return; // closed meanwhile
      try {
        await this.connect(uri, ...this.connectArgs);
        if (gen !== this.reconnectGen) return;
        this.reconnecting = false;
        for (const ns of streams) ns.onConnectionResumed();
        return;
      } catch (info) {
        if (gen !== this.reconnectGen) return;
        // A refusal by the application is final; an unreachable or
        // still-draining server is tried again.
        const refused = info?.code === 'NetConnection.Connect.Rejected' || info?.code === 'NetConnection.Connect.InvalidApp';
        if (refused || performance.now() >= until) {
          this.reconnecting = false;
          for (const ns of streams) ns.onConnectionClosed();
          this.dispatchEvent(new NetStatusEvent(statusInfo('NetConnection.Connect.Closed', 'status',
            `The server asked to reconnect and the connection could not be made again: ${info?.description ?? info}`)));
          return;
        }
      }
    }
  }

  /** close closes the connection; 'NetConnection.Connect.Closed' follows if it was connected. */
  close() {
    this.reconnectTo = null;
    if (this.reconnecting) {
      this.reconnectGen++;
      this.reconnecting = false;
      this.dispatchEvent(new NetStatusEvent(statusInfo('NetConnection.Connect.Closed', 'status', 'The connection closed.')));
    }
    const sock = this.socket;
    if (sock) sock.close();
  }

  /** stats returns byte counters of the connection. */
  get stats() {
    const s = this.socket;
    return { bytesIn: s?.bytesIn ?? 0, bytesOut: s?.bytesOut ?? 0, bufferedAmount: s?.bufferedAmount ?? 0 };
  }
}
