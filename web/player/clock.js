// The playback clock: media time in ms, driven by the AudioContext when
// audio plays (audio is the master: video and data are presented against
// it) and by the wall clock otherwise. It can be held (rebuffering) and
// moved forward (a live player catching up).

export class MediaClock {
  constructor() {
    this.audio = null; // AudioContext, when there is one
    this.anchored = false;
    this.kind = null; // 'audio' or 'wall'
    this.anchorBase = 0; // seconds of the base clock
    this.anchorTs = 0; // ms of media time at anchorBase
    this.held = false;
    this.heldTs = 0;
  }

  baseKind() {
    return this.audio && this.audio.state === 'running' ? 'audio' : 'wall';
  }

  baseNow(kind = this.kind) {
    return kind === 'audio' ? this.audio.currentTime : performance.now() / 1000;
  }

  /** anchor makes media time ts now. */
  anchor(ts) {
    this.kind = this.baseKind();
    this.anchorBase = this.baseNow();
    this.anchorTs = ts;
    this.anchored = true;
    this.held = false;
  }

  /** sync switches to the audio clock once the AudioContext runs, without a jump. */
  sync() {
    if (!this.anchored || this.held) return;
    const k = this.baseKind();
    if (k !== this.kind) this.anchor(this.now());
  }

  /** now returns the media time being presented, in ms. */
  now() {
    if (!this.anchored) return -Infinity;
    if (this.held) return this.heldTs;
    return this.anchorTs + (this.baseNow() - this.anchorBase) * 1000;
  }

  /** toBase returns when (base clock seconds) media time ts is presented. */
  toBase(ts) {
    return this.anchorBase + (ts - this.anchorTs) / 1000;
  }

  hold() {
    if (!this.anchored || this.held) return;
    this.heldTs = this.now();
    this.held = true;
  }

  release() {
    if (!this.held) return;
    this.anchor(this.heldTs);
  }

  /** skip moves media time forward by ms. */
  skip(ms) {
    if (this.held) this.heldTs += ms; else this.anchorTs += ms;
  }

  reset() {
    this.anchored = false;
    this.held = false;
    this.kind = null;
  }
}
