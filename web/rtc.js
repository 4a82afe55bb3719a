// rtc.js: a NetStream's media over a WebRTC peer, negotiated on the
// stream's own RTMP connection (docs/webrtc.md#netstream-signaling).
// The offer goes as the NetStream command webrtcOffer after ICE gathering
// (no trickle), the answer comes back as its _result; a refusal (_error)
// carries the HTTP status the same WHIP or WHEP request would have had.
// The caller falls back to RTMP media on the same NetStream when this
// fails.

/** The transports a NetStream may use ('auto': WebRTC, else the WebSocket). */
export const TRANSPORTS = ['auto', 'webrtc', 'websocket'];

/** How long a peer has to connect, then to deliver its first media, ms. */
export const CONNECT_TIMEOUT = 10000;
export const MEDIA_TIMEOUT = 8000;

/** offerCommand is the command a NetStream sends: [name, txn, null, {mode, name, sdp}]. */
export function offerCommand(txn, mode, name, sdp) {
  if (mode !== 'play' && mode !== 'publish') throw new TypeError(`webrtcOffer: mode ${mode}`);
  return ['webrtcOffer', txn, null, { mode, name: String(name), sdp: String(sdp) }];
}

/** answerOf reads the SDP of a webrtcOffer's _result. */
export function answerOf(values) {
  const info = values[3];
  if (!info || typeof info.sdp !== 'string' || info.sdp === '') throw rtcError('the answer carries no SDP', true);
  return info.sdp;
}

/**
 * refusalOf turns a webrtcOffer's _error into an Error: message the
 * server's reason with its status, fallback false only when the WebSocket
 * path would be refused too (403: the application said no).
 */
export function refusalOf(values) {
  const info = values?.[3] ?? {};
  const status = Number(info.status) || 0;
  const err = rtcError(`${status || 'refused'} ${info.description ?? 'WebRTC negotiation refused'}`, status !== 403);
  err.status = status;
  return err;
}

export function rtcError(message, fallback) {
  const err = new Error(message);
  err.fallback = fallback;
  return err;
}

/**
 * RTCSession is one NetStream's peer. start() resolves once media flows
 * (connected, and a first frame or sample within MEDIA_TIMEOUT) and
 * rejects with an Error whose fallback flag says whether the WebSocket
 * path may try.
 */
export class RTCSession {
  /**
   * @param {object} hooks send(values): Promise of the _result values (rejects with the _error values);
   *   view(): the element to render into; tracks(): the tracks to publish.
   * @param {object} [limits] connectTimeout and mediaTimeout, ms.
   */
  constructor(mode, hooks, limits = {}) {
    this.mode = mode;
    this.hooks = hooks;
    this.connectTimeout = limits.connectTimeout ?? CONNECT_TIMEOUT;
    this.mediaTimeout = limits.mediaTimeout ?? MEDIA_TIMEOUT;
    this.pc = null;
    this.video = null; // the <video> the tracks play in
    this.ownVideo = false;
    this.drawing = 0;
    this.closed = false;
    this.volume = 1;
  }

  async start(name) {
    if (typeof RTCPeerConnection !== 'function') throw rtcError('this browser has no RTCPeerConnection', true);
    const pc = new RTCPeerConnection();
    this.pc = pc;
    if (this.mode === 'play') {
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.addTransceiver('audio', { direction: 'recvonly' });
      const stream = new MediaStream();
      pc.ontrack = (e) => {
        stream.addTrack(e.track);
        this.attach(stream);
      };
    } else {
      const tracks = this.hooks.tracks().filter(Boolean);
      if (tracks.length === 0) throw rtcError('nothing to publish: attachCamera or attachAudio first', false);
      const stream = new MediaStream(tracks);
      for (const t of tracks) pc.addTransceiver(t, { direction: 'sendonly', streams: [stream] });
      preferH264(pc);
    }
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    if (this.closed) throw rtcError('closed', false);
    let values;
    try {
      values = await this.hooks.send(pc.localDescription.sdp);
    } catch (v) {
      throw Array.isArray(v) ? refusalOf(v) : rtcError(String(v?.message ?? v), true);
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answerOf(values) });
    await connected(pc, this.connectTimeout);
    await this.firstMedia();
  }

  // firstMedia waits for a decoded frame or sample (play) or sent packets
  // (publish): a peer that connects but carries nothing falls back too.
  async firstMedia() {
    const until = performance.now() + this.mediaTimeout;
    while (!this.closed && performance.now() < until) {
      for (const r of (await this.pc.getStats()).values()) {
        if (r.type === 'inbound-rtp' && ((r.framesDecoded ?? 0) > 0 || (r.totalSamplesReceived ?? 0) > 0)) return;
        if (r.type === 'outbound-rtp' && (r.packetsSent ?? 0) > 0) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw rtcError(`no media within ${this.mediaTimeout / 1000} s`, true);
  }

  // attach shows the received stream: in the view when it is a <video>,
  // else in a hidden <video> drawn onto the canvas frame by frame.
  attach(stream) {
    const view = this.hooks.view();
    if (!this.video) {
      if (view instanceof HTMLVideoElement) {
        this.video = view;
      } else {
        this.video = document.createElement('video');
        this.ownVideo = true;
      }
      this.video.autoplay = true;
      this.video.playsInline = true;
      this.video.volume = this.volume;
    }
    if (this.video.srcObject !== stream) this.video.srcObject = stream;
    this.video.play().catch(() => {});
    if (this.ownVideo && view instanceof HTMLCanvasElement && !this.drawing) this.draw(view);
  }

  // draw copies the hidden <video> onto the canvas at every animation
  // frame (a detached <video> has no compositor frames to wait for).
  draw(canvas) {
    const g = canvas.getContext('2d');
    const frame = () => {
      if (this.closed) return;
      const v = this.video;
      if (v.videoWidth) {
        if (canvas.width !== v.videoWidth || canvas.height !== v.videoHeight) {
          canvas.width = v.videoWidth;
          canvas.height = v.videoHeight;
        }
        g.drawImage(v, 0, 0, canvas.width, canvas.height);
      }
      this.drawing = requestAnimationFrame(frame);
    };
    this.drawing = requestAnimationFrame(frame);
  }

  setVolume(v) {
    this.volume = v;
    if (this.video) this.video.volume = Math.min(1, v);
  }

  /** stats reads getStats: the transport, and each direction's media. */
  async stats() {
    const out = { transport: 'webrtc' };
    if (!this.pc) return out;
    const all = await this.pc.getStats();
    for (const r of all.values()) {
      if (r.type === 'transport') out.dtlsState = r.dtlsState;
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') out.pair = true;
      if (r.type === 'inbound-rtp' || r.type === 'outbound-rtp') {
        const dir = r.type === 'inbound-rtp' ? 'inbound' : 'outbound';
        out[`${dir}${r.kind === 'video' ? 'Video' : 'Audio'}`] = {
          codec: all.get(r.codecId)?.mimeType ?? null,
          packets: r.packetsReceived ?? r.packetsSent ?? 0,
          bytes: r.bytesReceived ?? r.bytesSent ?? 0,
          framesDecoded: r.framesDecoded, framesDropped: r.framesDropped, framesEncoded: r.framesEncoded,
          width: r.frameWidth, height: r.frameHeight, audioEnergy: r.totalAudioEnergy,
        };
      }
    }
    return out;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc?.close();
    if (this.video) {
      if (this.drawing) cancelAnimationFrame(this.drawing);
      this.video.srcObject = null;
      if (this.ownVideo) this.video.remove();
    }
  }
}

// preferH264 puts H.264 first where the browser lets a page order codecs:
// the server carries no other video.
function preferH264(pc) {
  const caps = globalThis.RTCRtpSender?.getCapabilities?.('video');
  if (!caps) return;
  const h264 = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264');
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'video/h264');
  for (const t of pc.getTransceivers()) {
    if (t.sender.track?.kind === 'video' && t.setCodecPreferences) t.setCodecPreferences([...h264, ...rest]);
  }
}

// gathered waits for ICE gathering so that the offer carries the
// candidates: the signaling has no trickle.
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

// connected resolves when ICE and DTLS are up.
function connected(pc, timeout) {
  if (pc.connectionState === 'connected') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(rtcError(`no connection within ${timeout / 1000} s`, true)), timeout);
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(t);
        resolve();
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        clearTimeout(t);
        reject(rtcError(`ICE or DTLS ${pc.connectionState}`, true));
      }
    });
  });
}
