// Video output: decoded VideoFrames wait in presentation order and the
// newest one due on the media clock is drawn to a <canvas>, or written to
// a <video> through a MediaStreamTrackGenerator. Every frame is closed,
// presented or not: decoders stall when their frames are kept.

/**
 * MAX_QUEUED bounds the decoded frames waiting; beyond it the oldest is
 * dropped. The player decodes half a second ahead: this holds that at 60
 * frames a second.
 */
const MAX_QUEUED = 32;

export class VideoOutput {
  constructor() {
    this.queue = []; // VideoFrames by timestamp (µs)
    this.view = null;
    this.canvas = null;
    this.ctx2d = null;
    this.writer = null;
    this.presented = 0;
    this.dropped = 0;
    this.width = 0;
    this.height = 0;
    this.lastPresented = -Infinity; // ms
    this.presentTimes = []; // performance.now() of recent presentations, for currentFPS
  }

  /** attach renders into a <canvas> or a <video>; null detaches. */
  attach(el) {
    this.detach();
    if (!el) return;
    this.view = el;
    const isVideo = typeof HTMLVideoElement !== 'undefined' && el instanceof HTMLVideoElement;
    if (!isVideo) {
      this.canvas = el;
      this.ctx2d = el.getContext('2d');
      return;
    }
    if (typeof MediaStreamTrackGenerator === 'function') {
      const gen = new MediaStreamTrackGenerator({ kind: 'video' });
      this.writer = gen.writable.getWriter();
      this.generator = gen;
      el.srcObject = new MediaStream([gen]);
    } else {
      // No track generator: draw to a canvas and show its capture stream.
      this.canvas = document.createElement('canvas');
      this.ctx2d = this.canvas.getContext('2d');
      el.srcObject = this.canvas.captureStream();
    }
    el.muted = true; // the sound goes through WebAudio
    el.play?.().catch(() => {});
  }

  detach() {
    if (this.writer) {
      this.writer.close().catch(() => {});
      this.writer = null;
      this.generator = null;
    }
    if (this.view && 'srcObject' in this.view) this.view.srcObject = null;
    this.view = null;
    this.canvas = null;
    this.ctx2d = null;
  }

  push(frame) {
    const q = this.queue;
    let i = q.length;
    while (i > 0 && q[i - 1].timestamp > frame.timestamp) i--;
    q.splice(i, 0, frame);
    while (q.length > MAX_QUEUED) { q.shift().close(); this.dropped++; }
  }

  /** newest returns the presentation time (ms) of the newest queued frame. */
  get newest() { return this.queue.length ? this.queue[this.queue.length - 1].timestamp / 1000 : -Infinity; }

  /** render presents the newest frame due at media time now (ms). */
  render(now) {
    const q = this.queue;
    let due = -1;
    while (due + 1 < q.length && q[due + 1].timestamp / 1000 <= now) due++;
    if (due < 0) return false;
    for (let i = 0; i < due; i++) { q[i].close(); this.dropped++; }
    const frame = q[due];
    q.splice(0, due + 1);
    this.present(frame);
    return true;
  }

  present(frame) {
    this.presented++;
    this.lastPresented = frame.timestamp / 1000;
    const t = performance.now();
    this.presentTimes.push(t);
    while (this.presentTimes.length && this.presentTimes[0] < t - 1000) this.presentTimes.shift();
    this.width = frame.displayWidth;
    this.height = frame.displayHeight;
    if (this.writer) {
      this.writer.write(frame).catch(() => {}); // the generator closes it
      return;
    }
    if (this.ctx2d) {
      const c = this.canvas;
      if (c.width !== frame.displayWidth || c.height !== frame.displayHeight) {
        c.width = frame.displayWidth;
        c.height = frame.displayHeight;
      }
      this.ctx2d.drawImage(frame, 0, 0, c.width, c.height);
    }
    frame.close();
  }

  /** fps is the number of frames presented in the last second. */
  get fps() {
    const t = performance.now();
    while (this.presentTimes.length && this.presentTimes[0] < t - 1000) this.presentTimes.shift();
    return this.presentTimes.length;
  }

  flush() {
    for (const f of this.queue) f.close();
    this.queue = [];
  }

  close() {
    this.flush();
    this.detach();
  }
}
