// Audio output through WebAudio: decoded samples wait in a queue and are
// scheduled shortly before their time on the media clock, back to back
// so that rounding in FLV's millisecond timestamps never clicks.

/** SCHEDULE_AHEAD is how far ahead of the clock samples are handed to WebAudio, seconds. */
const SCHEDULE_AHEAD = 0.25;
/** A gap or overlap below this between two frames is rounding: play them back to back. */
const CONTIGUOUS = 0.015;

export class AudioOutput {
  constructor(clock) {
    this.clock = clock;
    const AC = globalThis.AudioContext ?? globalThis.webkitAudioContext;
    this.ctx = new AC({ latencyHint: 'interactive' });
    this.gain = this.ctx.createGain();
    this.gain.connect(this.ctx.destination);
    clock.audio = this.ctx;
    this.queue = []; // {ts (ms), buffer: AudioBuffer}
    this.sources = new Set();
    this.nextWhen = 0;
    this.lastEnd = -Infinity; // media ms at which scheduled audio ends
    this.played = 0; // AudioBuffers scheduled
    this.dropped = 0;
  }

  /** node is where the sound leaves the player (before the speakers): connect an AnalyserNode to it. */
  get node() { return this.gain; }

  set volume(v) { this.gain.gain.value = Math.max(0, v); }
  get volume() { return this.gain.gain.value; }

  /** resume starts the AudioContext (browsers want a user gesture). */
  resume() { return this.ctx.state === 'running' ? Promise.resolve() : this.ctx.resume(); }

  /** pushData queues a decoded AudioData at media time ts (ms) and closes it. */
  pushData(ts, data) {
    try {
      const n = data.numberOfFrames;
      const ch = data.numberOfChannels;
      const buf = this.ctx.createBuffer(ch, n, data.sampleRate);
      for (let c = 0; c < ch; c++) {
        const plane = new Float32Array(n);
        data.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
        buf.copyToChannel(plane, c);
      }
      this.enqueue(ts, buf);
    } finally {
      data.close();
    }
  }

  enqueue(ts, buffer) {
    this.queue.push({ ts, buffer });
    if (this.queue.length > 1 && this.queue[this.queue.length - 2].ts > ts) this.queue.sort((a, b) => a.ts - b.ts);
    // A clock that cannot play audio (a suspended context) keeps nothing.
    if (this.queue.length > 500) this.queue.splice(0, this.queue.length - 500);
  }

  /** newest returns the media time of the newest queued sample, or -Infinity. */
  get newest() { return this.queue.length ? this.queue[this.queue.length - 1].ts : -Infinity; }

  /** pump hands due samples to WebAudio; late ones are dropped. */
  pump() {
    const clock = this.clock;
    if (!clock.anchored || clock.held || clock.kind !== 'audio') {
      if (!clock.anchored) return;
      // Not on the audio clock (suspended context): drop what is due.
      const now = clock.now();
      while (this.queue.length && this.queue[0].ts < now) { this.queue.shift(); this.dropped++; }
      return;
    }
    const ctx = this.ctx;
    const horizon = ctx.currentTime + SCHEDULE_AHEAD;
    while (this.queue.length) {
      const { ts, buffer } = this.queue[0];
      let when = clock.toBase(ts);
      if (when > horizon) break;
      this.queue.shift();
      if (Math.abs(when - this.nextWhen) < CONTIGUOUS) when = this.nextWhen;
      if (when < ctx.currentTime) {
        // Late: play the part still ahead, or nothing.
        const late = ctx.currentTime - when;
        if (late >= buffer.duration - 0.002) { this.dropped++; continue; }
        this.start(buffer, ctx.currentTime, late);
        this.nextWhen = when + buffer.duration;
        continue;
      }
      this.start(buffer, when, 0);
      this.nextWhen = when + buffer.duration;
      this.lastEnd = ts + buffer.duration * 1000;
    }
  }

  start(buffer, when, offset) {
    const src = this.ctx.createBufferSource();
    src.buffer = buffer;
    src.connect(this.gain);
    src.onended = () => { this.sources.delete(src); src.disconnect(); };
    this.sources.add(src);
    src.start(when, offset);
    this.played++;
  }

  /** flush drops queued and scheduled audio (seek, stop). */
  flush() {
    this.queue = [];
    for (const s of this.sources) {
      try { s.stop(); } catch { /* not started */ }
    }
    this.sources.clear();
    this.nextWhen = 0;
  }

  close() {
    this.flush();
    if (this.clock.audio === this.ctx) this.clock.audio = null;
    this.ctx.close().catch(() => {});
  }
}
