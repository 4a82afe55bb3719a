// Type declarations of openfcs.js, the browser library of openfcs
// (docs/browser.md). Hand-written: the library has no build step.

/** An info object of a netStatus event: FMS's codes (docs/rtmp.md#status-codes). */
export interface StatusInfo {
  level: 'status' | 'warning' | 'error';
  code: string;
  description?: string;
  /** A script's rejection object (application.rejectConnection(client, obj)). */
  application?: unknown;
  details?: string;
  clientid?: number;
  objectEncoding?: 0 | 3;
  [key: string]: unknown;
}

export declare class NetStatusEvent extends Event {
  constructor(info: StatusInfo);
  readonly type: 'netStatus';
  readonly info: StatusInfo;
}

/** A server call or data message whose handler is missing or threw. */
export declare class AsyncErrorEvent extends Event {
  constructor(error: unknown);
  readonly type: 'asyncError';
  readonly error: unknown;
}

interface NetEventMap {
  netStatus: NetStatusEvent;
  asyncError: AsyncErrorEvent;
}

/** The library version, sent in the connect command's flashVer. */
export declare const VERSION: string;

/**
 * resolveURI maps a NetConnection URI to its WebSocket: rtmp://host/app/inst
 * (and rtmps, rtmpt) to the page's server, ws(s)://host:port/app/inst and
 * rtmpws(s):// to that host's /rtmp.
 */
export declare function resolveURI(uri: string, options?: { base?: { protocol: string; host: string }; endpoint?: string | null }):
  { wsURL: string; app: string; tcUrl: string };

/** A connection to an application instance. */
export declare class NetConnection extends EventTarget {
  /** objectEncoding of new connections; 3 (AMF3) unless changed. */
  static defaultObjectEncoding: 0 | 3;
  /** 0 (AMF0) or 3 (AMF3, the default); set before connect(). */
  objectEncoding: 0 | 3;
  /** The object whose methods the server's client.call() invokes; the connection itself by default. */
  client: object;
  /** A WebSocket URL to use whatever the URI says (a proxy, another path). */
  endpoint: string | null;
  /** Sign the handshake (the digest form); true by default. */
  digestHandshake: boolean;
  /** How long, ms, a server's NetConnection.Connect.ReconnectRequest is acted on (30000 by default). */
  reconnectTimeout: number;
  readonly uri: string | null;
  readonly connected: boolean;
  /** 'rtmpws' or 'rtmpwss' once connected. */
  readonly protocol: 'rtmpws' | 'rtmpwss' | null;
  /** The server's id of this client (the connect result's clientid). */
  readonly farID: number | null;
  /** Byte counters of the connection. */
  readonly stats: { bytesIn: number; bytesOut: number; bufferedAmount: number };
  /**
   * Connects; resolves with the info of NetConnection.Connect.Success, rejects
   * with the info of a refusal (Rejected with info.application, InvalidApp,
   * Failed, AppShutdown) or of a failure to reach the server.
   */
  connect(uri: string, ...args: unknown[]): Promise<StatusInfo>;
  /** Calls a server method; resolves with its result, rejects with the _error info. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T>;
  /** Closes the connection; NetConnection.Connect.Closed follows. */
  close(): void;
  addEventListener<K extends keyof NetEventMap>(type: K, listener: (ev: NetEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof NetEventMap>(type: K, listener: (ev: NetEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** Options of attachCamera. */
export interface CameraOptions {
  /** bits per second; default 1 000 000 */
  bitrate?: number;
  /** seconds between keyframes; default 2 */
  keyFrameInterval?: number;
  /** the track's when 0 or absent */
  width?: number;
  height?: number;
  framerate?: number;
}

/** Options of attachAudio. */
export interface AudioOptions {
  /** 'auto' (default): AAC where the browser encodes it, else Opus in Enhanced RTMP. */
  codec?: 'auto' | 'aac' | 'opus' | 'pcma' | 'pcmu' | 'pcm';
  /** bits per second for AAC and Opus; default 128 000 and 64 000 */
  bitrate?: number;
}

/** Statistics of a NetStream, in the spirit of Flash's NetStreamInfo. */
export interface NetStreamInfo {
  currentBytesPerSecond: number;
  byteCount: number;
  decodedFrames: number;
  droppedFrames: number;
  presentedFrames: number;
  bufferLength: number;
  videoWidth: number;
  videoHeight: number;
  audioDropped: number;
  /** Where the decoders run: 'worker', or 'page' where no worker could start. */
  decoderThread: 'worker' | 'page' | null;
  publish: null | {
    videoFrames: number; keyFrames: number; droppedFrames: number; audioFrames: number;
    videoBytes: number; audioBytes: number; videoCodec: string | null; audioCodec: string | null;
  };
}

/** How a NetStream carries its media (docs/browser.md#webrtc). */
export type Transport = 'auto' | 'webrtc' | 'websocket';

/** What NetStream.rtcStats() reads from the peer's getStats. */
export interface RTCMediaStats {
  codec: string | null;
  packets: number;
  bytes: number;
  framesDecoded?: number;
  framesDropped?: number;
  framesEncoded?: number;
  width?: number;
  height?: number;
  audioEnergy?: number;
}

export interface RTCTransportStats {
  transport: 'webrtc';
  dtlsState?: string;
  /** A nominated, succeeded ICE candidate pair. */
  pair?: boolean;
  inboundVideo?: RTCMediaStats;
  inboundAudio?: RTCMediaStats;
  outboundVideo?: RTCMediaStats;
  outboundAudio?: RTCMediaStats;
}

/** A stream of a NetConnection: plays or publishes. */
export declare class NetStream extends EventTarget {
  constructor(nc: NetConnection);
  /** The object whose methods data messages invoke (onMetaData, onCuePoint, send handlers); the stream itself by default. */
  client: object;
  /** Resolves with the stream id once the server created the stream. */
  readonly ready: Promise<number>;
  /** Playout delay in seconds; 0.1 by default. */
  bufferTime: number;
  readonly bufferLength: number;
  /** Seconds: the media shown when playing, the time since publish started when publishing. */
  readonly time: number;
  /** Frames shown in the last second. */
  readonly currentFPS: number;
  /** Video frames decoded since play. */
  readonly decodedFrames: number;
  /** 0 to 1. */
  volume: number;
  /**
   * The media transport of the next play() or publish(): 'websocket' (the
   * default: RTMP messages on the NetConnection), 'webrtc' (a peer
   * negotiated on the NetConnection; NetStream.Failed if it fails), or
   * 'auto' (WebRTC, else the WebSocket). Live streams only.
   */
  transport: Transport;
  /** The transport carrying the media now; null until it is settled. A NetStream.Transport event says when. */
  readonly transportInUse: 'webrtc' | 'websocket' | null;
  /** Why 'auto' took the WebSocket (or why WebRTC failed); '' otherwise. */
  readonly transportReason: string;
  /** The WebRTC peer's statistics (getStats); null over the WebSocket. */
  rtcStats(): Promise<RTCTransportStats | null>;
  /** The AudioContext the sound plays through; resume() it from a user gesture if the browser suspended it. */
  readonly audioContext: AudioContext | null;
  /** The last node before the speakers: connect an AnalyserNode to it. */
  readonly audioNode: AudioNode | null;
  readonly info: NetStreamInfo;
  /**
   * Plays a stream. start (seconds): -2 live or recorded (default), -1 live
   * only, >= 0 recorded from there; len (seconds): -1 to the end. play(false) stops.
   */
  play(name: string | false, start?: number, len?: number, reset?: boolean): void;
  /** Renders video into a <canvas> or a <video>; null detaches. */
  attachView(el: HTMLCanvasElement | HTMLVideoElement | null): void;
  pause(): void;
  resume(): void;
  togglePause(): void;
  /** Seeks a recorded stream, seconds. */
  seek(offset: number): void;
  receiveAudio(flag: boolean): void;
  receiveVideo(flag: boolean): void;
  /** Publishes a camera track (H.264). */
  attachCamera(track: MediaStreamTrack, options?: CameraOptions): void;
  /** Publishes a microphone track. */
  attachAudio(track: MediaStreamTrack, options?: AudioOptions): void;
  /** Publishes under name once NetStream.Publish.Start arrives; publish(false) stops. */
  publish(name: string | false, type?: 'live' | 'record' | 'append' | 'appendWithGap'): void;
  /** Sends a data message to the players of a published stream. */
  send(handler: string, ...args: unknown[]): void;
  /** Makes the next published video frame a keyframe. */
  requestKeyFrame(): void;
  /** Stops playing or publishing and frees the stream. */
  close(): void;
  dispose(): void;
  addEventListener<K extends keyof NetEventMap>(type: K, listener: (ev: NetEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof NetEventMap>(type: K, listener: (ev: NetEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/** One entry of a sync event's changeList. */
export interface Change {
  code: 'clear' | 'success' | 'change' | 'reject' | 'delete';
  name?: string;
  oldValue?: unknown;
}

export declare class SyncEvent extends Event {
  constructor(changeList: Change[]);
  readonly type: 'sync';
  readonly changeList: Change[];
}

interface SharedObjectEventMap extends NetEventMap {
  sync: SyncEvent;
}

/** A remote shared object. */
export declare class SharedObject extends EventTarget {
  /** The shared object of that name for the URI: one instance per name, URI and persistence. */
  static getRemote(name: string, uri: string, persistent?: boolean): SharedObject;
  readonly name: string;
  readonly persistent: boolean;
  /** The slots as last synchronised; change them with setProperty. */
  readonly data: Record<string, unknown>;
  /** The object whose methods send() messages invoke; the shared object itself by default. */
  client: object;
  readonly version: number;
  /** Subscribes through a connected NetConnection; resolves at the first sync. */
  connect(nc: NetConnection): Promise<void>;
  /** Changes a slot (null or undefined deletes it); the local copy changes at once. */
  setProperty(name: string, value: unknown): void;
  /** Sends a slot changed in place again. */
  setDirty(name: string): void;
  /** Calls handler(...args) on every subscriber, this one included. */
  send(handler: string, ...args: unknown[]): void;
  /** Stops using the object. */
  close(): void;
  addEventListener<K extends keyof SharedObjectEventMap>(type: K, listener: (ev: SharedObjectEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof SharedObjectEventMap>(type: K, listener: (ev: SharedObjectEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

// --- AMF values ------------------------------------------------------------

/** The class name of a typed object. */
export declare const amfClass: unique symbol;
/** The AMF3 traits an object arrived with. */
export declare const amfTraits: unique symbol;
/** Marks an object as an ECMA array. */
export declare const amfECMA: unique symbol;

export declare class AMFError extends Error {
  readonly code: 'truncated' | 'malformed' | 'bad-reference' | 'unsupported' | 'unknown-marker' | 'too-deep' | 'too-large' | 'not-encodable';
  readonly offset: number;
}
export declare class XMLDocument { constructor(text: string); text: string; }
export declare class XML { constructor(text: string); text: string; }
export declare class Vector {
  constructor(kind: 'int' | 'uint' | 'double' | 'object', items?: unknown[], options?: { fixed?: boolean; typeName?: string });
  kind: 'int' | 'uint' | 'double' | 'object';
  items: unknown[];
  fixed: boolean;
  typeName: string;
}
export declare class Dictionary extends Map<unknown, unknown> {
  constructor(entries?: Iterable<readonly [unknown, unknown]>, weakKeys?: boolean);
  weakKeys: boolean;
}
export declare class Traits {
  constructor(className?: string, sealed?: string[], dynamic?: boolean, externalizable?: boolean);
  className: string;
  sealed: string[];
  dynamic: boolean;
  externalizable: boolean;
}
/** The AMF0 "unsupported" value. */
export declare const unsupported: object;
/** A typed object (AMF0 0x10; AMF3 traits with that alias). */
export declare function typed<T extends object>(className: string, props?: T): T;
/** An object sent as an ECMA array (AMF0 0x08). */
export declare function ecma<T extends object>(props?: T): T;
/** An object sent with explicit AMF3 traits. */
export declare function withTraits<T extends object>(traits: Traits, props?: T): T;
export declare function encodeAMF0(values: unknown[], options?: { shareRepeats?: boolean }): Uint8Array;
export declare function decodeAMF0(bytes: Uint8Array): unknown[];
export declare function encodeAMF3(value: unknown): Uint8Array;
export declare function decodeAMF3(bytes: Uint8Array): unknown;
