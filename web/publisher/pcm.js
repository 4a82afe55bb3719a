// Audio a browser cannot encode with WebCodecs but every Flash-era and
// ffmpeg player decodes: G.711 A-law and µ-law (ITU-T G.711) at 8 kHz and
// 16-bit linear PCM, with the resampler that gets microphone audio there.

/**
 * Resampler converts mono float samples from one rate to another with a
 * windowed-sinc low-pass, keeping its state across calls.
 */
export class Resampler {
  constructor(inRate, outRate, taps = 32) {
    this.step = inRate / outRate;
    this.taps = taps;
    // Cut off below the lower Nyquist frequency, a little early for the window.
    this.cutoff = Math.min(1, outRate / inRate) * 0.9;
    this.hist = new Float32Array(0);
    this.pos = 0; // input position (in hist) of the next output sample
  }

  /** process returns the output samples for input samples x (Float32Array). */
  process(x) {
    const h = new Float32Array(this.hist.length + x.length);
    h.set(this.hist);
    h.set(x, this.hist.length);
    const half = this.taps / 2;
    const out = [];
    const fc = this.cutoff;
    while (this.pos + half < h.length) {
      const center = Math.floor(this.pos);
      const frac = this.pos - center;
      let acc = 0;
      let norm = 0;
      for (let k = -half + 1; k <= half; k++) {
        const i = center + k;
        if (i < 0) continue;
        const d = k - frac;
        const arg = Math.PI * d * fc;
        const sinc = d === 0 ? 1 : Math.sin(arg) / arg;
        const w = 0.5 + 0.5 * Math.cos((Math.PI * d) / (half + 1)); // Hann window
        const c = sinc * w;
        acc += h[i] * c;
        norm += c;
      }
      out.push(norm ? acc / norm : 0);
      this.pos += this.step;
    }
    // Keep what the next call's first outputs still need.
    const keep = Math.max(0, Math.floor(this.pos) - half);
    this.hist = h.slice(keep);
    this.pos -= keep;
    return Float32Array.from(out);
  }
}

function toS16(f) {
  const v = Math.max(-1, Math.min(1, f));
  return v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
}

const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];

function segment(v, ends) {
  let i = 0;
  while (i < ends.length && v > ends[i]) i++;
  return i;
}

/** linearToALaw encodes one 16-bit sample (G.711 A-law). */
export function linearToALaw(s) {
  let v = s >> 3;
  let mask = 0xd5;
  if (v < 0) { mask = 0x55; v = -v - 1; }
  const seg = segment(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  const a = (seg << 4) | (seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f);
  return a ^ mask;
}

/** linearToMuLaw encodes one 16-bit sample (G.711 µ-law). */
export function linearToMuLaw(s) {
  let v = s >> 2;
  let mask = 0xff;
  if (v < 0) { v = -v; mask = 0x7f; }
  v = Math.min(v, 8159) + 0x21;
  const seg = segment(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

/** aLawToLinear decodes one A-law byte (for tests and meters). */
export function aLawToLinear(a) {
  a ^= 0x55;
  const seg = (a >> 4) & 7;
  let t = (a & 0x0f) << 4;
  t = seg === 0 ? t + 8 : (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

/** muLawToLinear decodes one µ-law byte. */
export function muLawToLinear(u) {
  u = ~u & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/**
 * PCMEncoder turns microphone AudioData into FLV-ready packets: 'pcma' and
 * 'pcmu' (8 kHz) or 'pcm' (16-bit little-endian, 44.1 kHz), mono, in
 * packets of 20 ms. output(packetBytes, startSample) is called per packet;
 * startSample counts samples at the output rate since the first.
 */
export class PCMEncoder {
  constructor(codec, output) {
    this.codec = codec;
    this.rate = codec === 'pcm' ? 44100 : 8000;
    this.frame = Math.round(this.rate / 50);
    this.output = output;
    this.resampler = null;
    this.pending = new Float32Array(0);
    this.samples = 0;
  }

  /** encode takes one AudioData (not closed here). */
  encode(data) {
    const n = data.numberOfFrames;
    const ch = data.numberOfChannels;
    const mono = new Float32Array(n);
    const plane = new Float32Array(n);
    for (let c = 0; c < ch; c++) {
      data.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
      for (let i = 0; i < n; i++) mono[i] += plane[i] / ch;
    }
    if (!this.resampler) this.resampler = new Resampler(data.sampleRate, this.rate);
    this.push(this.resampler.process(mono));
  }

  push(x) {
    const all = new Float32Array(this.pending.length + x.length);
    all.set(this.pending);
    all.set(x, this.pending.length);
    let off = 0;
    for (; off + this.frame <= all.length; off += this.frame) {
      this.output(this.pack(all.subarray(off, off + this.frame)), this.samples);
      this.samples += this.frame;
    }
    this.pending = all.slice(off);
  }

  pack(x) {
    if (this.codec === 'pcm') {
      const b = new Uint8Array(x.length * 2);
      const dv = new DataView(b.buffer);
      for (let i = 0; i < x.length; i++) dv.setInt16(2 * i, toS16(x[i]), true);
      return b;
    }
    const enc = this.codec === 'pcma' ? linearToALaw : linearToMuLaw;
    const b = new Uint8Array(x.length);
    for (let i = 0; i < x.length; i++) b[i] = enc(toS16(x[i]));
    return b;
  }
}
