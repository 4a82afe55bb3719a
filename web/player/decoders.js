// Decoders: FLV audio and video messages in, VideoFrames and AudioData
// out. They run in the player's worker (player/worker.js), or on the page's
// thread where a worker cannot be started. Nothing here touches the DOM.

import { avcInBandConfig, parseAudio, parseVideo, UnsupportedCodec } from '../flv.js';

/** A decoder with more frames than this queued skips to the next keyframe. */
const MAX_DECODE_QUEUE = 60;
/** Audio chunks further apart than their usual step plus this leave a gap, ms. */
const AUDIO_GAP = 30;

function sameConfig(a, b) {
  if (!a || !b || a.codec !== b.codec || a.sampleRate !== b.sampleRate || a.numberOfChannels !== b.numberOfChannels) return false;
  const da = a.description;
  const db = b.description;
  if (!da || !db) return da === db;
  return da.length === db.length && da.every((x, i) => x === db[i]);
}

/**
 * Decoders decode one stream's audio and video. out: frame(VideoFrame),
 * audio(AudioData), failed(message) once per codec or failure, dropped().
 * Every VideoFrame and AudioData handed out belongs to the receiver.
 */
export class Decoders {
  constructor(out) {
    this.out = out;
    this.thread = 'page';
    this.failed = new Set();
    this.closed = false;
    this.resetVideo();
    this.resetAudio();
  }

  fail(err) {
    const key = err instanceof UnsupportedCodec ? err.codecName : String(err.message);
    if (this.failed.has(key)) return;
    this.failed.add(key);
    this.out.failed(err.message);
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
    this.adcfg = null;
    this.apending = null;
    this.aLast = null; // timestamp of the last chunk decoded, ms
    this.aStep = 0; // the usual step between chunks, ms
  }

  // --- video -------------------------------------------------------------

  video(ts, payload) {
    if (this.closed) return;
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
      if (!sameConfig(cfg, this.vconfig)) this.configureVideo(cfg);
      return;
    }
    const { key, cts, data } = v.frame;
    if (!this.vconfig && key && v.frame.avc) {
      // No configuration record yet: take the SPS and PPS the keyframe carries.
      const c = avcInBandConfig(data);
      if (c) this.configureVideo({ ...c, optimizeForLatency: true });
    }
    const pts = ts + cts;
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
        output: (frame) => {
          if (this.closed) frame.close(); else this.out.frame(frame);
        },
        error: (e) => {
          this.out.failed(`The video decoder failed: ${e.message}`);
          // Start over at the next keyframe.
          const c = this.vconfig;
          this.resetVideo();
          if (c && !this.closed) this.configureVideo(c);
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
    if (dec.decodeQueueSize > MAX_DECODE_QUEUE) {
      // The decoder cannot keep up: drop to the next keyframe.
      this.vwaitKey = true;
      this.out.dropped();
      return;
    }
    dec.decode(new EncodedVideoChunk({ type: key ? 'key' : 'delta', timestamp: Math.round(pts * 1000), data }));
  }

  // --- audio -------------------------------------------------------------

  audio(ts, payload) {
    if (this.closed) return;
    let a;
    try {
      a = parseAudio(payload);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (!a) return;
    if (a.config) {
      if (!sameConfig(a.config, this.aconfig)) this.configureAudio(a.config);
      return;
    }
    const { data, config } = a.frame;
    if (config) {
      if (config.pcm) {
        this.pcm(ts, config, data);
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

  // pcm turns FLV linear PCM (unsigned 8-bit or signed 16-bit little-endian)
  // into AudioData: no decoder needed.
  pcm(ts, config, bytes) {
    const ch = config.numberOfChannels;
    const s16 = config.codec === 'pcm-s16le';
    const n = Math.floor(bytes.length / (ch * (s16 ? 2 : 1)));
    if (n === 0 || typeof AudioData !== 'function') return;
    const planes = new Float32Array(n * ch);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let c = 0; c < ch; c++) {
      for (let i = 0; i < n; i++) {
        planes[c * n + i] = s16 ? dv.getInt16((i * ch + c) * 2, true) / 32768 : (bytes[i * ch + c] - 128) / 128;
      }
    }
    this.out.audio(new AudioData({
      format: 'f32-planar', sampleRate: config.sampleRate, numberOfFrames: n, numberOfChannels: ch,
      timestamp: Math.round(ts * 1000), data: planes,
    }));
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
        output: (data) => {
          if (this.closed) data.close(); else this.out.audio(data);
        },
        error: (e) => {
          this.out.failed(`The audio decoder failed: ${e.message}`);
          const c = this.aconfig;
          this.resetAudio();
          if (c && !this.closed) this.configureAudio(c);
        },
      });
      this.adec.configure(dcfg);
      this.adcfg = dcfg;
      for (const f of pending) this.decodeAudio(f.ts, f.data);
    }, (err) => this.fail(err));
  }

  decodeAudio(ts, data) {
    const dec = this.adec;
    if (!dec || dec.state !== 'configured') return;
    // The decoder stamps its output by counting samples from the first
    // chunk it got, so audio missing from the stream (a publisher that
    // lost some) would leave every later sample early for good, and the
    // player would drop it as late. After a gap it starts counting again.
    if (this.aLast !== null && ts - this.aLast > this.aStep + AUDIO_GAP) {
      dec.reset();
      dec.configure(this.adcfg);
    } else if (this.aLast !== null && ts > this.aLast) {
      this.aStep = ts - this.aLast;
    }
    this.aLast = ts;
    dec.decode(new EncodedAudioChunk({ type: 'key', timestamp: Math.round(ts * 1000), data }));
  }

  // --- control -----------------------------------------------------------

  /** drain outputs what the decoders hold (the frames B-frame reordering keeps) at the end of a stream. */
  drain() {
    if (this.vdec?.state === 'configured') {
      this.vdec.flush().catch(() => {});
      this.vwaitKey = true;
    }
    if (this.adec?.state === 'configured') this.adec.flush().catch(() => {});
  }

  /** flush drops what the decoders hold (a seek, a new play). */
  flush() {
    if (this.vdec?.state === 'configured') {
      this.vdec.reset();
      this.vdec.configure(this.vconfig);
    }
    this.vwaitKey = true;
    this.aLast = null;
    if (this.adec?.state === 'configured') {
      this.adec.reset();
      const c = this.aconfig;
      const dcfg = { codec: c.codec, sampleRate: c.sampleRate, numberOfChannels: c.numberOfChannels };
      if (c.description) dcfg.description = c.description;
      this.adec.configure(dcfg);
    }
  }

  close() {
    this.closed = true;
    this.resetVideo();
    this.resetAudio();
  }
}
