// The playback pipeline of a NetStream: FLV messages in, WebCodecs
// decoders, a small jitter buffer, audio through WebAudio as the master
// clock, video presented against it, data messages delivered in step with
// the media (as Flash Player delivers them).

import { avcInBandConfig, parseAudio, parseVideo, UnsupportedCodec } from '../flv.js';
import { MediaClock } from './clock.js';
import { AudioOutput } from './audio.js';
import { VideoOutput } from './video.js';

/** A live player more than this far beyond its playout delay behind the newest media... */
const CATCH_UP = 100;
/** ...for this long skips ahead, ms. */
const CATCH_UP_AFTER = 500;
/** The clock holds once it is this far past the newest media received, ms. */
const STARVED = 50;
/** The least playout delay, whatever bufferTime says, ms: network jitter. */
const MIN_DELAY = 60;
/** Data handlers delivered on arrival rather than in step with the media. */
const IMMEDIATE = new Set(['onMetaData', '|RtmpSampleAccess', 'onStatus', 'onPlayStatus']);

function sameConfig(a, b) {
  if (!a || !b || a.codec !== b.codec || a.sampleRate !== b.sampleRate || a.numberOfChannels !== b.numberOfChannels) return false;
  const da = a.description;
  const db = b.description;
  if (!da || !db) return da === db;
  return da.length === db.length && da.every((x, i) => x === db[i]);
}

export class Player {
  /**
   * hooks: status(code, level, description), data(handler, args),
   * bufferTime() -> seconds.
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.clock = new MediaClock();
    this.video = new VideoOutput();
    this.audio = null;
    this.live = true;
    this.paused = false;
    this.closed = false;
    this.decodedFrames = 0;
    this.droppedFrames = 0;
    this.newest = -Infinity; // newest media time received, ms
    this.dataQueue = [];
    this.bytes = [];
    this.byteCount = 0;
    this.failed = new Set();
    this.buffering = true;
    this.resetVideo();
    this.resetAudio();
    this.loop = this.loop.bind(this);
    this.raf = 0;
    this.timer = 0;
  }

  attachView(el) { this.video.attach(el); }

  /** ensureAudio creates the WebAudio output (once, at play). */
  ensureAudio() {
    if (this.audio || this.closed) return this.audio;
    try {
      this.audio = new AudioOutput(this.clock);
      this.audio.resume().catch(() => {});
    } catch (err) {
      this.audio = null; // no WebAudio: video only, wall clock
    }
    return this.audio;
  }

  start({ live = true } = {}) {
    this.live = live;
    this.ensureAudio();
    this.schedule();
  }

  resetVideo() {
    if (this.vdec && this.vdec.state !== 'closed') this.vdec.close();
    this.vdec = null;
    this.vconfig = null;
    this.vpending = null; // frames waiting for isConfigSupported
    this.vwaitKey = true;
  }

  resetAudio() {
    if (this.adec && this.adec.state !== 'closed') this.adec.close();
    this.adec = null;
    this.aconfig = null;
    this.apending = null;
  }

  /**
   * drain makes the decoders output what they hold (the last frames before
   * B-frames' reordering lets go of them) when a stream ends; the next
   * video must start with a keyframe.
   */
  drain() {
    if (this.vdec?.state === 'configured') {
      this.vdec.flush().catch(() => {});
      this.vwaitKey = true;
    }
    if (this.adec?.state === 'configured') this.adec.flush().catch(() => {});
  }

  /** flush drops everything buffered: a seek, a new play, a stop. */
  flush() {
    this.video.flush();
    this.audio?.flush();
    this.dataQueue = [];
    this.clock.reset();
    this.newest = -Infinity;
    this.buffering = true;
    if (this.vdec && this.vdec.state === 'configured') {
      this.vdec.reset();
      this.vdec.configure(this.vconfig);
    }
    this.vwaitKey = true;
    if (this.adec && this.adec.state === 'configured') {
      this.adec.reset();
      this.adec.configure(this.aconfig);
    }
  }

  delay() {
    return Math.max(MIN_DELAY, (this.hooks.bufferTime?.() ?? 0.1) * 1000);
  }

  countBytes(n) {
    const t = performance.now();
    this.bytes.push([t, n]);
    this.byteCount += n;
  }

  /** bytesPerSecond of audio and video received over the last second. */
  get bytesPerSecond() {
    const t = performance.now();
    while (this.bytes.length && this.bytes[0][0] < t - 1000) this.bytes.shift();
    return this.bytes.reduce((s, [, n]) => s + n, 0);
  }

  fail(err) {
    const key = err instanceof UnsupportedCodec ? err.codecName : String(err.message);
    if (this.failed.has(key)) return;
    this.failed.add(key);
    this.hooks.status('NetStream.Play.Failed', 'error', err.message);
  }

  // --- video -------------------------------------------------------------

  onVideo(ts, payload) {
    if (this.closed) return;
    this.countBytes(payload.length);
    let v;
    try {
      v = parseVideo(payload);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!v) return;
    if (v.config) {
      const cfg = { codec: v.config.codec, description: v.config.description, optimizeForLatency: true };
      if (sameConfig(cfg, this.vconfig)) return;
      this.configureVideo(cfg);
      return;
    }
    const { key, cts, data } = v.frame;
    const pts = ts + cts;
    this.newest = Math.max(this.newest, ts);
    if (!this.vconfig && key && v.frame.avc) {
      // No configuration record yet: take the SPS and PPS the keyframe carries.
      const c = avcInBandConfig(data);
      if (c) this.configureVideo({ ...c, optimizeForLatency: true });
    }
    if (this.vpending) {
      if (this.vpending.length < 300) this.vpending.push({ key, pts, data: data.slice() });
      return;
    }
    this.decodeVideo(key, pts, data);
  }

  configureVideo(cfg) {
    this.resetVideo();
    this.vconfig = cfg;
    if (typeof VideoDecoder !== 'function') {
      this.fail(new Error('This browser has no WebCodecs VideoDecoder: video cannot be played.'));
      return;
    }
    this.vpending = [];
    VideoDecoder.isConfigSupported(cfg).then((res) => {
      if (this.vconfig !== cfg || this.closed) return;
      const pending = this.vpending;
      this.vpending = null;
      if (!res.supported) {
        this.fail(new UnsupportedCodec('video', `Video ${cfg.codec}`));
        this.vconfig = null;
        return;
      }
      this.vdec = new VideoDecoder({
        output: (frame) => this.onFrame(frame),
        error: (e) => {
          this.hooks.status('NetStream.Play.Failed', 'error', `The video decoder failed: ${e.message}`);
          // Start over at the next keyframe.
          const c = this.vconfig;
          this.resetVideo();
          if (c) this.configureVideo(c);
        },
      });
      this.vdec.configure(cfg);
      for (const f of pending) this.decodeVideo(f.key, f.pts, f.data);
    }, (err) => this.fail(err));
  }

  decodeVideo(key, pts, data) {
    const dec = this.vdec;
    if (!dec || dec.state !== 'configured') return;
    if (this.vwaitKey) {
      if (!key) return;
      this.vwaitKey = false;
    }
    if (dec.decodeQueueSize > 60) {
      // The decoder cannot keep up: drop to the next keyframe.
      this.vwaitKey = true;
      this.droppedFrames++;
      return;
    }
    dec.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: Math.round(pts * 1000), data }));
  }

  onFrame(frame) {
    this.decodedFrames++;
    if (this.closed) { frame.close(); return; }
    this.video.push(frame);
    this.anchorIfNeeded(frame.timestamp / 1000);
  }

  // --- audio -------------------------------------------------------------

  onAudio(ts, payload) {
    if (this.closed) return;
    this.countBytes(payload.length);
    let a;
    try {
      a = parseAudio(payload);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!a) return;
    this.newest = Math.max(this.newest, ts);
    if (a.config) {
      if (!sameConfig(a.config, this.aconfig)) this.configureAudio(a.config);
      return;
    }
    const { data, config } = a.frame;
    if (config) {
      if (config.pcm) {
        const out = this.ensureAudio();
        if (out) {
          out.pushPCM(ts, config, data);
          this.anchorIfNeeded(ts);
        }
        return;
      }
      if (!sameConfig(config, this.aconfig)) this.configureAudio(config);
    }
    if (this.apending) {
      if (this.apending.length < 500) this.apending.push({ ts, data: data.slice() });
      return;
    }
    this.decodeAudio(ts, data);
  }

  configureAudio(cfg) {
    this.resetAudio();
    this.aconfig = cfg;
    if (typeof AudioDecoder !== 'function') {
      this.fail(new Error('This browser has no WebCodecs AudioDecoder: audio cannot be played.'));
      return;
    }
    const dcfg = { codec: cfg.codec, sampleRate: cfg.sampleRate, numberOfChannels: cfg.numberOfChannels };
    if (cfg.description) dcfg.description = cfg.description;
    this.apending = [];
    AudioDecoder.isConfigSupported(dcfg).then((res) => {
      if (this.aconfig !== cfg || this.closed) return;
      const pending = this.apending;
      this.apending = null;
      if (!res.supported) {
        this.fail(new UnsupportedCodec('audio', `Audio ${cfg.codec}`));
        this.aconfig = null;
        return;
      }
      this.adec = new AudioDecoder({
        output: (data) => this.onAudioData(data),
        error: (e) => {
          this.hooks.status('NetStream.Play.Failed', 'error', `The audio decoder failed: ${e.message}`);
          const c = this.aconfig;
          this.resetAudio();
          if (c) this.configureAudio(c);
        },
      });
      this.adec.configure(dcfg);
      for (const f of pending) this.decodeAudio(f.ts, f.data);
    }, (err) => this.fail(err));
  }

  decodeAudio(ts, data) {
    const dec = this.adec;
    if (!dec || dec.state !== 'configured') return;
    dec.decode(new EncodedAudioChunk({ type: 'key', timestamp: Math.round(ts * 1000), data }));
  }

  onAudioData(data) {
    const out = this.ensureAudio();
    if (!out || this.closed) { data.close(); return; }
    const ts = data.timestamp / 1000;
    out.pushData(ts, data);
    this.anchorIfNeeded(ts);
  }

  // --- data --------------------------------------------------------------

  onData(ts, handler, args) {
    if (this.closed) return;
    if (IMMEDIATE.has(handler) || !this.clock.anchored) {
      this.hooks.data(handler, args);
      return;
    }
    this.dataQueue.push({ ts, handler, args });
  }

  // --- clock and presentation -------------------------------------------

  anchorIfNeeded(ts) {
    if (this.clock.anchored || this.paused) return;
    // Live: start a playout delay behind the newest media received (what
    // came before, the GOP a late joiner gets, is decoded but not shown),
    // or at the first sample if that is later. Recorded: from the start.
    this.clock.anchor(this.live ? Math.max(ts, this.newest - this.delay()) : ts);
    this.schedule();
  }

  schedule() {
    if (this.closed || this.raf || this.timer) return;
    const visible = typeof document === 'undefined' || document.visibilityState !== 'hidden';
    if (visible && typeof requestAnimationFrame === 'function') {
      this.raf = requestAnimationFrame(this.loop);
      // rAF does not run in hidden or throttled pages: a timer backs it up.
      this.timer = setTimeout(this.loop, 100);
    } else {
      this.timer = setTimeout(this.loop, 15);
    }
  }

  loop() {
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.timer) clearTimeout(this.timer);
    this.raf = 0;
    this.timer = 0;
    if (this.closed) return;
    this.tick();
    this.schedule();
  }

  tick() {
    const clock = this.clock;
    clock.sync();
    if (!clock.anchored || this.paused) return;
    const now = clock.now();
    const lead = this.newest - now;
    const delay = this.delay();
    if (!clock.held && lead < -STARVED && this.newest > -Infinity) {
      // The media stopped arriving: hold the clock until a buffer is back.
      clock.hold();
      if (!this.buffering) {
        this.buffering = true;
        this.hooks.status('NetStream.Buffer.Empty', 'status', 'Buffer empty: waiting for data.');
      }
    } else if (clock.held && lead >= delay) {
      clock.release();
    }
    if (!clock.held && this.live && lead > delay + CATCH_UP) {
      // Behind the live edge for a while (a burst after a stall, a slow
      // start): skip ahead.
      this.behindSince ??= performance.now();
      if (performance.now() - this.behindSince >= CATCH_UP_AFTER) {
        clock.skip(lead - delay);
        this.behindSince = null;
      }
    } else {
      this.behindSince = null;
    }
    const t = clock.now();
    if (this.video.render(t) && this.buffering) {
      this.buffering = false;
      this.hooks.status('NetStream.Buffer.Full', 'status', 'Buffer full: playing.');
    }
    this.audio?.pump();
    if (this.buffering && !this.video.view && this.audio && this.audio.played > 0) {
      this.buffering = false;
      this.hooks.status('NetStream.Buffer.Full', 'status', 'Buffer full: playing.');
    }
    while (this.dataQueue.length && this.dataQueue[0].ts <= t) {
      const d = this.dataQueue.shift();
      this.hooks.data(d.handler, d.args);
    }
  }

  /** time is the media time presented, in ms (NaN before the first frame). */
  get time() {
    const t = this.clock.now();
    return Number.isFinite(t) ? Math.max(0, t) : NaN;
  }

  /** bufferLength is how much media is buffered ahead of the clock, ms. */
  get bufferLength() {
    const t = this.clock.now();
    return Number.isFinite(t) ? Math.max(0, this.newest - t) : 0;
  }

  pause() {
    this.paused = true;
    this.clock.hold();
    this.audio?.flush();
  }

  resume() {
    this.paused = false;
    // A live stream resumes at the live edge: start over with the next data.
    this.flush();
  }

  close() {
    this.closed = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    if (this.timer) clearTimeout(this.timer);
    this.resetVideo();
    this.resetAudio();
    this.video.close();
    this.audio?.close();
    this.audio = null;
    this.dataQueue = [];
  }
}
