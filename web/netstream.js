// NetStream: Flash's stream over a NetConnection. It plays (FLV messages
// decoded with WebCodecs, rendered into a <canvas> or <video>, sound
// through WebAudio) or publishes (camera and microphone tracks encoded
// with WebCodecs), and sends and receives data messages.

import { MessageType } from './chunk.js';
import { CSID, decodeBody, UserControl } from './rtmp.js';
import { NetStatusEvent, AsyncErrorEvent, statusInfo } from './netconnection.js';
import { Player } from './player/player.js';
import { Publisher } from './publisher/publisher.js';
import { RTCSession, TRANSPORTS, offerCommand } from './rtc.js';

/**
 * NetStream plays or publishes one stream of a NetConnection.
 *
 *   const ns = new NetStream(nc);
 *   ns.attachView(document.querySelector('canvas'));
 *   ns.client = { onMetaData(md) { ... } };
 *   ns.play('stream');
 *
 *   const pub = new NetStream(nc);
 *   const media = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
 *   pub.attachCamera(media.getVideoTracks()[0]);
 *   pub.attachAudio(media.getAudioTracks()[0]);
 *   pub.publish('stream');
 *
 * Events: 'netStatus' (NetStatusEvent; NetStream.* codes as FMS sends them,
 * and NetStream.Buffer.Full/Empty from the player), 'asyncError'.
 */
export class NetStream extends EventTarget {
  constructor(nc) {
    super();
    this.nc = nc;
    /** The object whose methods data messages invoke (onMetaData, onCuePoint, send handlers); defaults to this stream. */
    this.client = this;
    this.id = 0;
    this.mode = null; // 'play' or 'publish'
    this.name = null;
    this.closed = false;
    this.queue = []; // commands waiting for the stream id
    this.bufferTimeValue = 0.1;
    this.view = null;
    this.player = null;
    this.publisher = null;
    this.recorded = false;
    this.volumeValue = 1;
    // Media transport (docs/browser.md#webrtc): 'websocket' (the default),
    // 'webrtc' or 'auto' (WebRTC, else the WebSocket).
    this.transportValue = 'websocket';
    this.transportInUse = null; // 'webrtc' or 'websocket' once media flows
    this.transportReason = ''; // why the WebSocket path was taken
    this.rtc = null;
    this.rtcPaused = false;
    this.rtcGen = 0;
    this.cameraTrack = null;
    this.microphoneTrack = null;
    this.playArgs = [];
    this.publishType = 'live';
    this.bind();
  }

  // bind asks the connection for a stream id; commands issued meanwhile
  // wait in the queue.
  bind() {
    const nc = this.nc;
    this.ready = nc.createStream().then((id) => {
      this.id = id;
      nc.streams.set(id, this);
      if (this.closed) {
        this.nc.sendCommand(0, ['deleteStream', 0, null, id]);
        return id;
      }
      for (const f of this.queue) f();
      this.queue = [];
      return id;
    }, (info) => {
      this.dispatchEvent(new NetStatusEvent(info ?? statusInfo('NetStream.Failed', 'error', 'createStream failed.')));
      throw info;
    });
    this.ready.catch(() => {});
  }

  whenReady(f) {
    if (this.id) f(); else this.queue.push(f);
  }

  command(name, ...args) {
    this.whenReady(() => this.nc.sendCommand(this.id, [name, 0, null, ...args]));
  }

  status(code, level, description, extra) {
    this.dispatchEvent(new NetStatusEvent(statusInfo(code, level, description, extra)));
  }

  // --- playing ------------------------------------------------------------

  /**
   * play plays a stream. start (seconds): -2 live or recorded (the
   * default), -1 live only, 0 or more a recorded stream from there; len
   * (seconds): -1 to the end; reset: replace the playlist. play(false)
   * stops playing.
   */
  play(name, start = -2, len = -1, reset = true) {
    this.stopRTC();
    if (name === false || name === null) {
      this.mode = null;
      this.command('play', false);
      this.player?.flush();
      return;
    }
    this.mode = 'play';
    this.name = String(name);
    this.playArgs = [start, len, reset];
    // WebRTC carries live streams; a recording goes over the WebSocket.
    if (this.transportValue !== 'websocket' && start < 0 && len < 0) {
      // A player of an earlier play over the WebSocket would hold the view.
      this.player?.close();
      this.player = null;
      this.startRTC('play', () => this.playWebSocket(start, len, reset));
      return;
    }
    this.playWebSocket(start, len, reset);
  }

  playWebSocket(start, len, reset) {
    if (!this.player) {
      this.player = new Player({
        status: (code, level, description) => this.status(code, level, description, { details: this.name }),
        data: (handler, args) => this.deliver(handler, args),
        bufferTime: () => this.bufferTimeValue,
      });
      if (this.view) this.player.attachView(this.view);
      this.player.ensureAudio();
      if (this.player.audio) this.player.audio.volume = this.volumeValue;
    }
    // The API takes seconds, the wire milliseconds (docs/rtmp.md#play);
    // -2 and -1 become -2000 and -1000.
    const ms = (v) => (v < 0 ? Math.round(v) * 1000 : Math.round(v * 1000));
    this.whenReady(() => {
      this.nc.socket?.setBufferLength(this.id, this.bufferTimeValue * 1000);
      this.nc.sendCommand(this.id, ['play', 0, null, this.name, ms(start), ms(len), !!reset]);
    });
    this.player.start({ live: start < 0 });
  }

  /** receiveAudio(false) stops the server sending audio to this stream. */
  receiveAudio(flag) { this.command('receiveAudio', !!flag); }

  /** receiveVideo(false) stops the server sending video; true resumes from the next keyframe. */
  receiveVideo(flag) { this.command('receiveVideo', !!flag); }

  /** pause stops playback; resume continues (a live stream at the live edge). */
  pause() {
    this.command('pause', true, Math.round(this.time * 1000));
    this.player?.pause();
    // Over WebRTC the server's player pauses (docs/webrtc.md#pause-and-seek).
    this.rtcPaused = !!this.rtc;
  }

  resume() {
    this.command('pause', false, Math.round(this.time * 1000));
    this.player?.resume();
    this.rtcPaused = false;
  }

  togglePause() {
    if (this.player ? this.player.paused : this.rtcPaused) this.resume(); else this.pause();
  }

  /** seek moves a recorded stream to offset seconds. */
  seek(offset) {
    this.player?.flush();
    this.command('seek', 0, Math.max(0, Math.round(offset * 1000)));
  }

  // --- WebRTC (docs/browser.md#webrtc) ---------------------------------------

  /** transport: 'websocket' (default), 'webrtc' or 'auto' (WebRTC, falling back to the WebSocket). */
  get transport() { return this.transportValue; }
  set transport(v) {
    if (!TRANSPORTS.includes(v)) throw new TypeError(`NetStream.transport: ${v} is not one of ${TRANSPORTS.join(', ')}`);
    this.transportValue = v;
  }

  /** transportReason says why 'auto' took the WebSocket, or why WebRTC failed. */

  // startRTC negotiates a peer for mode; on failure it falls back (auto)
  // or reports NetStream.Failed (webrtc).
  startRTC(mode, fallback) {
    const gen = ++this.rtcGen;
    const rtc = new RTCSession(mode, {
      send: (sdp) => new Promise((resolve, reject) => {
        this.whenReady(() => {
          const txn = this.nc.nextTxn();
          this.nc.pending.set(txn, { name: 'webrtcOffer', resolve, reject });
          this.nc.sendCommand(this.id, offerCommand(txn, mode, this.name, sdp));
        });
      }),
      view: () => this.view,
      tracks: () => [this.cameraTrack, this.microphoneTrack],
    });
    rtc.setVolume(this.volumeValue);
    this.rtc = rtc;
    this.transportInUse = null;
    this.transportReason = '';
    rtc.start(this.name).then(() => {
      if (gen !== this.rtcGen || this.closed) return;
      this.setTransport('webrtc', '');
    }, (err) => {
      if (gen !== this.rtcGen || this.closed) return;
      this.rtcFailed(err, fallback);
    });
  }

  rtcFailed(err, fallback) {
    this.rtc?.close();
    this.rtc = null;
    if (this.transportValue === 'auto' && err.fallback !== false) {
      this.setTransport('websocket', `WebRTC: ${err.message}`);
      fallback();
      return;
    }
    this.transportReason = `WebRTC: ${err.message}`;
    this.status('NetStream.Failed', 'error', this.transportReason, { details: this.name, transport: 'webrtc' });
  }

  setTransport(mode, reason) {
    this.transportInUse = mode;
    this.transportReason = reason;
    this.status('NetStream.Transport', 'status', reason || `Media over ${mode}.`, { details: this.name, transport: mode, reason });
  }

  stopRTC() {
    this.rtcGen++;
    this.rtc?.close();
    this.rtc = null;
  }

  /** rtcStats reads the WebRTC peer's getStats (null over the WebSocket). */
  async rtcStats() { return this.rtc ? this.rtc.stats() : null; }

  /** attachView renders video into a <canvas> or <video> element (null detaches). */
  attachView(el) {
    this.view = el;
    this.player?.attachView(el);
  }

  /** bufferTime is the playout delay in seconds (0.1 by default, as in Flash for live streams). */
  get bufferTime() { return this.bufferTimeValue; }
  set bufferTime(s) {
    this.bufferTimeValue = Math.max(0, Number(s) || 0);
    if (this.id && this.mode === 'play') this.nc.socket?.setBufferLength(this.id, this.bufferTimeValue * 1000);
  }

  /** bufferLength is the media buffered ahead of what is shown, seconds. */
  get bufferLength() { return (this.player?.bufferLength ?? 0) / 1000; }

  /** time is the position in seconds: of the media shown when playing, since the start when publishing. */
  get time() {
    if (this.mode === 'publish') return (this.publisher?.time ?? 0) / 1000;
    const t = this.player?.time;
    return Number.isFinite(t) ? t / 1000 : 0;
  }

  /** currentFPS is the number of frames shown (playing) in the last second. */
  get currentFPS() { return this.player?.video.fps ?? 0; }

  /** decodedFrames is the number of video frames decoded since play. */
  get decodedFrames() { return this.player?.decodedFrames ?? 0; }

  /** volume of the sound, 0 to 1 (Flash's soundTransform.volume). */
  get volume() { return this.volumeValue; }
  set volume(v) {
    this.volumeValue = Math.max(0, Number(v));
    this.rtc?.setVolume(this.volumeValue);
    if (this.player?.audio) this.player.audio.volume = this.volumeValue;
  }

  /** audioContext is the AudioContext sound plays through (resume() it from a user gesture if the browser suspended it). */
  get audioContext() { return this.player?.audio?.ctx ?? null; }

  /** audioNode is the last node before the speakers: connect an AnalyserNode to it. */
  get audioNode() { return this.player?.audio?.node ?? null; }

  /** info reports statistics (Flash's NetStreamInfo, in its spirit). */
  get info() {
    const p = this.player;
    const pub = this.publisher;
    return {
      currentBytesPerSecond: p?.bytesPerSecond ?? 0,
      byteCount: p?.byteCount ?? 0,
      decodedFrames: p?.decodedFrames ?? 0,
      droppedFrames: (p?.video.dropped ?? 0) + (p?.droppedFrames ?? 0),
      presentedFrames: p?.video.presented ?? 0,
      bufferLength: this.bufferLength,
      videoWidth: p?.video.width ?? 0,
      videoHeight: p?.video.height ?? 0,
      audioDropped: p?.audio?.dropped ?? 0,
      decoderThread: p?.decoders.thread ?? null,
      publish: pub ? { ...pub.stats } : null,
    };
  }

  // --- publishing ---------------------------------------------------------

  /** attachCamera publishes a video MediaStreamTrack; options: bitrate, keyFrameInterval (s), width, height, framerate. */
  attachCamera(track, options) {
    this.cameraTrack = track;
    this.ensurePublisher().setCamera(track, options);
  }

  /** attachAudio publishes an audio MediaStreamTrack; options: codec ('auto', 'aac', 'opus', 'pcma', 'pcmu', 'pcm'), bitrate. */
  attachAudio(track, options) {
    this.microphoneTrack = track;
    this.ensurePublisher().setMicrophone(track, options);
  }

  ensurePublisher() {
    if (!this.publisher) {
      this.publisher = new Publisher({
        video: (ts, body) => this.sendMedia(MessageType.video, CSID.video, ts, body),
        audio: (ts, body) => this.sendMedia(MessageType.audio, CSID.audio, ts, body),
        data: (ts, values) => this.id && this.nc.sendData(this.id, values, ts),
        buffered: () => this.nc.stats.bufferedAmount,
        status: (code, level, description) => this.status(code, level, description),
      });
    }
    return this.publisher;
  }

  sendMedia(type, csid, ts, body) {
    if (!this.id || this.closed) return;
    this.nc.socket?.send({ csid, type, streamId: this.id, timestamp: ts }, body);
  }

  /** requestKeyFrame makes the publisher's next frame a keyframe. */
  requestKeyFrame() { this.publisher?.requestKeyFrame(); }

  /**
   * publish publishes under name; type 'live' (default), 'record' or
   * 'append'. Media flows once the server answers NetStream.Publish.Start.
   * publish(false) stops publishing.
   */
  publish(name, type = 'live') {
    this.stopRTC();
    if (name === false || name === null) {
      this.mode = null;
      this.publisher?.stop();
      this.command('closeStream');
      return;
    }
    this.mode = 'publish';
    this.name = String(name);
    this.publishType = type;
    this.ensurePublisher();
    if (this.transportValue !== 'websocket' && type === 'live') {
      this.startRTC('publish', () => this.command('publish', this.name, type));
      return;
    }
    this.command('publish', this.name, type);
  }

  /** send sends a data message on a publishing stream: players' client[handler](...args) runs in step with the media. */
  send(handler, ...args) {
    this.whenReady(() => this.nc.sendData(this.id, [String(handler), ...args], this.mode === 'publish' ? Math.round(this.publisher?.time ?? 0) : 0));
  }

  // --- from the connection ----------------------------------------------

  onMessage(m) {
    switch (m.type) {
      case MessageType.audio:
        this.player?.onAudio(m.timestamp, m.payload);
        return;
      case MessageType.video:
        this.player?.onVideo(m.timestamp, m.payload);
        return;
      case MessageType.data: case MessageType.data3: {
        let values;
        try {
          values = decodeBody(m.type, m.payload);
        } catch (err) {
          this.dispatchEvent(new AsyncErrorEvent(err));
          return;
        }
        const [handler, ...args] = values;
        if (typeof handler !== 'string') return;
        if (this.player) this.player.onData(m.timestamp, handler, args); else this.deliver(handler, args);
        return;
      }
      case MessageType.aggregate:
        this.onAggregate(m);
        return;
      default:
    }
  }

  // onAggregate splits an aggregate message (FLV tags) into messages.
  onAggregate(m) {
    const p = m.payload;
    let off = 0;
    let base = null;
    while (off + 11 <= p.length) {
      const type = p[off];
      const size = (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3];
      const ts = ((p[off + 7] << 24) | (p[off + 4] << 16) | (p[off + 5] << 8) | p[off + 6]) >>> 0;
      if (off + 11 + size + 4 > p.length) return;
      if (base === null) base = ts;
      this.onMessage({ type, streamId: m.streamId, timestamp: (m.timestamp + ts - base) >>> 0, payload: p.subarray(off + 11, off + 11 + size) });
      off += 11 + size + 4;
    }
  }

  onCommand(name, args) {
    if (name !== 'onStatus') {
      this.deliver(name, args);
      return;
    }
    const info = args.find((v) => v && typeof v === 'object');
    if (!info) return;
    this.dispatchEvent(new NetStatusEvent(info));
    switch (info.code) {
      case 'NetStream.Play.Reset':
        this.player?.flush();
        break;
      case 'NetStream.Play.Start':
        this.player?.start({ live: !this.recorded });
        break;
      case 'NetStream.Publish.Start':
        if (info.transport !== 'webrtc') this.publisher?.start();
        break;
      case 'NetStream.WebRTC.Closed':
        if (this.rtc) this.rtcFailed(Object.assign(new Error(info.description), { fallback: true }), this.mode === 'play'
          ? () => this.playWebSocket(-2, -1, true) : () => this.command('publish', this.name, 'live'));
        break;
      case 'NetStream.Unpublish.Success':
        this.publisher?.stop();
        break;
      case 'NetStream.Play.Stop':
      case 'NetStream.Play.UnpublishNotify':
        this.player?.drain();
        break;
      default:
    }
  }

  onUserControl(ev) {
    if (ev === UserControl.streamIsRecorded) {
      this.recorded = true;
      if (this.player) this.player.live = false;
    } else if (ev === UserControl.streamBegin && this.player) {
      this.recorded = this.recorded && this.mode === 'play';
    }
  }

  // deliver calls a data handler on the client object.
  deliver(handler, args) {
    const target = this.client;
    const fn = target?.[handler];
    if (typeof fn !== 'function' || (target === this && handler in NetStream.prototype)) {
      if (handler === 'onMetaData' || handler === '|RtmpSampleAccess' || handler === 'onStatus' || handler === 'onPlayStatus') {
        if (handler === 'onPlayStatus' && args[0]?.code) this.dispatchEvent(new NetStatusEvent(args[0]));
        return; // optional handlers, as in Flash
      }
      this.dispatchEvent(new AsyncErrorEvent(new Error(`NetStream: a data message for ${handler}, which the client object does not define`)));
      return;
    }
    try {
      fn.apply(target, args);
    } catch (err) {
      this.dispatchEvent(new AsyncErrorEvent(err));
    }
    if (handler === 'onPlayStatus' && args[0]?.code) this.dispatchEvent(new NetStatusEvent(args[0]));
  }

  // onConnectionSuspended: the connection is being made again after the
  // server's ReconnectRequest (docs/browser.md#reconnecting); media stop,
  // what the stream was doing is kept.
  onConnectionSuspended() {
    this.stopRTC();
    this.publisher?.stop();
    this.player?.close();
    this.player = null;
    this.id = 0;
    this.queue = [];
  }

  // onConnectionResumed: the connection is made again; a new stream id,
  // then the same play or publish.
  onConnectionResumed() {
    if (this.closed) return;
    this.bind();
    if (this.mode === 'play' && this.name !== null) this.play(this.name, ...this.playArgs);
    else if (this.mode === 'publish' && this.name !== null) this.publish(this.name, this.publishType);
  }

  onConnectionClosed() {
    this.stopRTC();
    this.publisher?.stop();
    this.player?.close();
    this.player = null;
    this.closed = true;
  }

  /** close stops playing or publishing and frees the stream. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.stopRTC();
    this.publisher?.stop();
    this.player?.close();
    this.player = null;
    if (this.id && this.nc.connected) {
      this.nc.sendCommand(this.id, ['closeStream', 0, null]);
      this.nc.sendCommand(0, ['deleteStream', 0, null, this.id]);
      this.nc.streams.delete(this.id);
    }
  }

  /** dispose closes the stream and detaches the view. */
  dispose() {
    this.close();
    this.view = null;
  }
}
