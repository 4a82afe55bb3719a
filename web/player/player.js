// The playback pipeline of a NetStream: FLV messages go to the decoders
// in a worker (player/worker.js; on this thread where no worker can be
// started), a small jitter buffer holds what they output, audio plays
// through WebAudio as the master clock, video is presented against it,
// and data messages are delivered in step with the media (as Flash Player
// delivers them).

import { Decoders } from './decoders.js';
import { MediaClock } from './clock.js';
import { AudioOutput } from './audio.js';
import { VideoOutput } from './video.js';
import { isSequenceHeader } from '../flv.js';

/** A live player that stayed more than this far beyond its playout delay behind the newest media... */
const CATCH_UP = 100;
/** ...for this long skips ahead, ms. */
const CATCH_UP_AFTER = 1000;
/** The clock holds once it is this far past the newest media received, ms. */
const STARVED = 50;
/** The least playout delay, whatever bufferTime says, ms: network jitter. */
const MIN_DELAY = 60;
/** Media are decoded this far ahead of the clock, ms; the rest waits compressed. */
const DECODE_AHEAD = 500;
/**
 * Before the clock starts, a window that has given the decoders nothing to
 * output for this long moves on to the next messages held, ms of wall time:
 * a stream whose first half-second cannot decode (no keyframe, no audio)
 * must not stall the player.
 */
const WINDOW_STALL = 1000;
/** At most this many messages wait to be decoded (when nothing can start the clock). */
const MAX_INBOX = 3000;
/** Data handlers delivered on arrival rather than in step with the media. */
const IMMEDIATE = new Set(['onMetaData', '|RtmpSampleAccess', 'onStatus', 'onPlayStatus']);

/**
 * WorkerDecoders runs Decoders in a worker. Messages wait until the worker
 * says it is ready; if it cannot start (a library loaded from another
 * origin, a blocked module), the same messages go to Decoders on this
 * thread instead.
 */
class WorkerDecoders {
  constructor(out) {
    this.out = out;
    this.queue = [];
    this.local = null;
    this.ready = false;
    try {
      this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    } catch {
      this.fallback();
      return;
    }
    this.worker.onmessage = (e) => this.onMessage(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      if (!this.ready) this.fallback();
    };
  }

  fallback() {
    this.worker?.terminate();
    this.worker = null;
    this.local = new Decoders(this.out);
    const q = this.queue;
    this.queue = [];
    for (const [op, ts, payload] of q) this.send(op, ts, payload);
  }

  onMessage(m) {
    switch (m.op) {
      case 'ready': {
        this.ready = true;
        const q = this.queue;
        this.queue = [];
        for (const [op, ts, payload] of q) this.send(op, ts, payload);
        break;
      }
      case 'frame': this.out.frame(m.frame); break;
      case 'audio': this.out.audio(m.data); break;
      case 'failed': this.out.failed(m.message); break;
      case 'dropped': this.out.dropped(); break;
      default:
    }
  }

  send(op, ts, payload) {
    if (this.local) {
      if (op === 'video' || op === 'audio') this.local[op](ts, payload); else this.local[op]();
      return;
    }
    if (!this.ready) {
      this.queue.push([op, ts, payload]);
      return;
    }
    // A payload that owns its whole buffer moves to the worker; one that
    // shares it (an aggregate's part) is copied.
    const whole = payload && payload.byteOffset === 0 && payload.byteLength === payload.buffer.byteLength;
    this.worker.postMessage({ op, ts, payload }, whole ? [payload.buffer] : []);
  }

  /** thread says where decoding runs: 'worker', or 'page' after a fallback (null until known). */
  get thread() { return this.local ? 'page' : this.ready ? 'worker' : null; }

  video(ts, payload) { this.send('video', ts, payload); }
  audio(ts, payload) { this.send('audio', ts, payload); }
  drain() { this.send('drain'); }
  flush() { this.send('flush'); }

  close() {
    if (this.local) this.local.close();
    if (this.worker) {
      this.worker.postMessage({ op: 'close' });
      this.worker = null;
    }
    this.queue = [];
  }
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
    this.buffering = true;
    this.inbox = []; // [kind, ts, payload, isConfig] received, not yet decoded
    this.feedStart = null;
    this.feedStartAt = 0; // performance.now() when feedStart was set
    this.leads = []; // [performance.now(), lead ms] of the catch-up window
    this.leadsSince = null;
    const out = {
      frame: (f) => this.onFrame(f),
      audio: (a) => this.onAudioData(a),
      failed: (message) => this.hooks.status('NetStream.Play.Failed', 'error', message),
      dropped: () => { this.droppedFrames++; },
    };
    this.decoders = hooks.worker === false || typeof Worker !== 'function' ? new Decoders(out) : new WorkerDecoders(out);
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

  /** drain makes the decoders output what they hold when a stream ends. */
  drain() {
    // What waits to be decoded goes first: the stream has ended.
    for (const [kind, ts, payload] of this.inbox) this.decoders[kind](ts, payload);
    this.inbox = [];
    this.decoders.drain();
  }

  /** flush drops everything buffered: a seek, a new play, a stop. */
  flush() {
    this.video.flush();
    this.audio?.flush();
    this.dataQueue = [];
    this.clock.reset();
    this.newest = -Infinity;
    this.buffering = true;
    this.inbox = [];
    this.feedStart = null;
    this.decoders.flush();
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

  // --- media --------------------------------------------------------------

  onVideo(ts, payload) { this.receive('video', ts, payload); }

  onAudio(ts, payload) { this.receive('audio', ts, payload); }

  receive(kind, ts, payload) {
    if (this.closed) return;
    this.countBytes(payload.length);
    this.newest = Math.max(this.newest, ts);
    this.inbox.push([kind, ts, payload, isSequenceHeader(kind, payload)]);
    if (this.inbox.length > MAX_INBOX) this.inbox.shift();
    this.feed();
  }

  // feed hands the decoders the messages due within DECODE_AHEAD of the
  // clock (of the first frame before the clock starts): what a server
  // sends ahead (a recorded stream paced by bufferTime, a late joiner's
  // GOP) waits here compressed rather than as decoded frames, which
  // decoders stall on when too many are held. Codec configurations do not
  // start the window: a late joiner gets them with the timestamps they
  // were published at, seconds before its GOP, and a window starting there
  // would hold the GOP back forever.
  feed() {
    const q = this.inbox;
    if (q.length === 0) return;
    let limit;
    if (this.clock.anchored) {
      this.feedStart = null;
      limit = this.clock.now() + DECODE_AHEAD;
    } else {
      const first = q.find((m) => !m[3]);
      const t = performance.now();
      if (first && (this.feedStart === null || (first[1] > this.feedStart + DECODE_AHEAD && t - this.feedStartAt > WINDOW_STALL))) {
        this.feedStart = first[1];
        this.feedStartAt = t;
      }
      limit = this.feedStart === null ? -Infinity : this.feedStart + DECODE_AHEAD;
    }
    let i = 0;
    while (i < q.length && (q[i][3] || q[i][1] <= limit)) {
      const [kind, ts, payload] = q[i++];
      this.decoders[kind](ts, payload);
    }
    if (i > 0) q.splice(0, i);
  }

  onFrame(frame) {
    this.decodedFrames++;
    if (this.closed) { frame.close(); return; }
    this.video.push(frame);
    this.anchorIfNeeded(frame.timestamp / 1000);
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
      // rAF does not run in occluded or throttled pages: a timer backs it
      // up, fast enough for 40 frames a second.
      this.timer = setTimeout(this.loop, 25);
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
    if (!clock.held && this.live) {
      // Behind the live edge: skip ahead, but only by what stayed buffered
      // the whole last window, so that bursty arrival (the buffer's very
      // reason) does not make the clock jump back and forth.
      const t = performance.now();
      this.leads.push([t, lead]);
      while (this.leads.length && this.leads[0][0] < t - CATCH_UP_AFTER) this.leads.shift();
      const minLead = Math.min(...this.leads.map(([, l]) => l));
      if (t - (this.leadsSince ?? t) >= CATCH_UP_AFTER && minLead > delay + CATCH_UP) {
        clock.skip(minLead - delay);
        this.leads = [];
        this.leadsSince = t;
      }
      this.leadsSince ??= t;
    } else {
      this.leads = [];
      this.leadsSince = null;
    }
    const t = clock.now();
    this.feed();
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
    this.decoders.close();
    this.video.close();
    this.audio?.close();
    this.audio = null;
    this.dataQueue = [];
  }
}
