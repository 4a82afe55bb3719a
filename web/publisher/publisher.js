// The publishing pipeline of a NetStream: camera and microphone
// MediaStreamTracks through MediaStreamTrackProcessor into WebCodecs
// encoders, out as FLV (H.264, AAC, G.711, PCM) or E-RTMP (Opus) messages
// with metadata and sequence headers first, so ffmpeg, rtmpdump and
// Flash-era players can play a browser publisher.

import {
  avcSequenceHeader, avcFrame, aacSequenceHeader, aacFrame, opusSequenceStart, opusFrame, opusHead,
  g711Frame, pcmFrame, FourCC,
} from '../flv.js';
import { ecma } from '../amf.js';
import { PCMEncoder } from './pcm.js';

/** Video options and their defaults. */
export const defaultVideoOptions = Object.freeze({
  bitrate: 1_000_000, // bits per second
  keyFrameInterval: 2, // seconds between keyframes
  framerate: 0, // 0: the track's
  width: 0, // 0: the track's
  height: 0,
});

/** Audio options: codec 'auto' (AAC where the browser encodes it, else Opus as E-RTMP), 'aac', 'opus', 'pcma', 'pcmu' or 'pcm'. */
export const defaultAudioOptions = Object.freeze({
  codec: 'auto',
  bitrate: 0, // 0: 128 kbit/s AAC, 64 kbit/s Opus
});

/** Above this many bytes waiting in the WebSocket, video frames are dropped to the next keyframe. */
const HIGH_WATER = 1 << 20;
/** AudioData the microphone reader may hold while the page is busy (about 10 ms each). */
const AUDIO_QUEUE = 200;
/** Missing microphone audio longer than this is a gap the timestamps skip, µs. */
const AUDIO_GAP = 30000;
/** The most a video frame's timestamp is moved to keep frames a frame interval apart, ms. */
const MAX_RESTAMP = 200;
const LOW_WATER = 256 << 10;

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

// aacConfig builds an AAC-LC AudioSpecificConfig, for encoders that give none.
function aacConfig(rate, channels) {
  const fi = AAC_RATES.indexOf(rate);
  return new Uint8Array([(2 << 3) | (fi >> 1), ((fi & 1) << 7) | (channels << 3)]);
}

// avcCodecFor picks a Constrained Baseline level that fits the picture
// (macroblocks per frame and per second, ITU-T H.264 table A-1).
function avcCodecFor(width, height, fps) {
  const mbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const rate = mbs * (fps || 30);
  if (mbs <= 1620 && rate <= 40500) return 'avc1.42e01f'; // 3.1
  if (mbs <= 8192 && rate <= 245760) return 'avc1.42e028'; // 4.0
  return 'avc1.42e033'; // 5.1
}

function bytesEqual(a, b) {
  return a && b && a.length === b.length && a.every((x, i) => x === b[i]);
}

export class Publisher {
  /**
   * hooks: video(ts, body), audio(ts, body), data(ts, values),
   * buffered() -> bytes waiting, status(code, level, description).
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.videoTrack = null;
    this.audioTrack = null;
    this.videoOptions = { ...defaultVideoOptions };
    this.audioOptions = { ...defaultAudioOptions };
    this.running = false;
    this.origin = 0; // performance.now() at start
    this.stats = { videoFrames: 0, keyFrames: 0, droppedFrames: 0, audioFrames: 0, videoBytes: 0, audioBytes: 0, videoCodec: null, audioCodec: null };
    this.readers = [];
  }

  setCamera(track, options) {
    this.videoTrack = track;
    this.videoOptions = { ...defaultVideoOptions, ...options };
    if (this.running) this.restart();
  }

  setMicrophone(track, options) {
    this.audioTrack = track;
    this.audioOptions = { ...defaultAudioOptions, ...options };
    if (this.running) this.restart();
  }

  restart() {
    this.stop();
    this.start();
  }

  /** time is the publishing time in ms. */
  get time() { return this.running ? performance.now() - this.origin : 0; }

  /** requestKeyFrame makes the next video frame a keyframe. */
  requestKeyFrame() { this.forceKey = true; }

  async start() {
    if (this.running) return;
    this.running = true;
    this.origin = performance.now();
    const gen = (this.generation = (this.generation ?? 0) + 1);
    const meta = { duration: 0, encoder: 'openfcs.js' };
    let video;
    let audio;
    try {
      if (this.videoTrack) video = await this.prepareVideo(meta);
      if (this.audioTrack) audio = await this.prepareAudio(meta);
    } catch (err) {
      if (gen === this.generation) {
        this.hooks.status('NetStream.Failed', 'error', err.message);
        this.stop();
      }
      return;
    }
    if (gen !== this.generation || !this.running) {
      video?.encoder.close();
      audio?.encoder?.close?.();
      return;
    }
    // Metadata first, as ffmpeg and OBS send it (docs/rtmp.md#data-messages).
    this.hooks.data(0, ['@setDataFrame', 'onMetaData', ecma(meta)]);
    if (video) this.pumpVideo(video, gen);
    if (audio) this.pumpAudio(audio, gen);
  }

  // --- video -------------------------------------------------------------

  async prepareVideo(meta) {
    if (typeof VideoEncoder !== 'function' || typeof MediaStreamTrackProcessor !== 'function') {
      throw new Error('This browser cannot encode video (no WebCodecs VideoEncoder or MediaStreamTrackProcessor).');
    }
    const s = this.videoTrack.getSettings();
    const o = this.videoOptions;
    const width = (o.width || s.width || 640) & ~1;
    const height = (o.height || s.height || 480) & ~1;
    const framerate = o.framerate || s.frameRate || 30;
    let config;
    for (const hw of ['no-preference', 'prefer-software']) {
      const c = {
        codec: avcCodecFor(width, height, framerate), width, height, bitrate: o.bitrate, framerate,
        avc: { format: 'avc' }, latencyMode: 'realtime', hardwareAcceleration: hw,
      };
      // eslint-disable-next-line no-await-in-loop
      if ((await VideoEncoder.isConfigSupported(c)).supported) { config = c; break; }
    }
    if (!config) throw new Error(`This browser has no H.264 encoder for ${width}x${height}.`);
    Object.assign(meta, { width, height, framerate, videocodecid: 7, videodatarate: Math.round(o.bitrate / 1000) });
    this.stats.videoCodec = config.codec;
    const st = { config, lastKey: -Infinity, avcC: null, first: null, width, height, framerate, lastTs: -Infinity, tsByUs: new Map() };
    st.encoder = new VideoEncoder({
      output: (chunk, md) => this.onVideoChunk(st, chunk, md),
      error: (e) => this.hooks.status('NetStream.Failed', 'error', `The video encoder failed: ${e.message}`),
    });
    st.encoder.configure(config);
    return st;
  }

  async pumpVideo(st, gen) {
    const reader = new MediaStreamTrackProcessor({ track: this.videoTrack }).readable.getReader();
    this.readers.push(reader);
    let dropping = false;
    try {
      for (;;) {
        const { value: frame, done } = await reader.read();
        if (done || gen !== this.generation) { frame?.close(); break; }
        if (st.first === null) st.first = { us: frame.timestamp, ms: performance.now() - this.origin };
        let ts = st.first.ms + (frame.timestamp - st.first.us) / 1000;
        // Cameras deliver frames with jitter, and in bursts when the
        // machine is busy; players that rebuild a constant frame rate
        // (ffmpeg, Flash) want at least one frame interval between two.
        // A frame that comes early is stamped a little late, by 200 ms at
        // most; one that would need more is not sent (timestamps never go
        // back).
        const spaced = st.lastTs + 1000 / st.framerate;
        if (ts < spaced) {
          if (spaced - ts > MAX_RESTAMP) {
            this.stats.droppedFrames++;
            frame.close();
            continue;
          }
          ts = spaced;
        }
        st.lastTs = ts;
        const buffered = this.hooks.buffered();
        if (dropping ? buffered > LOW_WATER : buffered > HIGH_WATER || st.encoder.encodeQueueSize > 4) {
          // The connection or the encoder is behind: skip frames, restart
          // with a keyframe so players never see a broken reference.
          dropping = true;
          this.stats.droppedFrames++;
          frame.close();
          continue;
        }
        const key = dropping || this.forceKey || ts - st.lastKey >= this.videoOptions.keyFrameInterval * 1000;
        dropping = false;
        this.forceKey = false;
        if (key) st.lastKey = ts;
        st.tsByUs.set(frame.timestamp, ts);
        if (st.tsByUs.size > 64) st.tsByUs.delete(st.tsByUs.keys().next().value); // frames the encoder dropped
        // A frame of another size is scaled by the encoder to its configured size.
        st.encoder.encode(frame, { keyFrame: key });
        frame.close();
      }
    } catch (err) {
      if (gen === this.generation) this.hooks.status('NetStream.Failed', 'error', `Reading the camera failed: ${err.message}`);
    } finally {
      if (st.encoder.state !== 'closed') st.encoder.close();
    }
  }

  onVideoChunk(st, chunk, md) {
    if (!this.running) return;
    const desc = md?.decoderConfig?.description;
    if (desc) {
      const avcC = new Uint8Array(desc instanceof ArrayBuffer ? desc : desc.buffer.slice(desc.byteOffset, desc.byteOffset + desc.byteLength));
      if (!bytesEqual(avcC, st.avcC)) {
        st.avcC = avcC;
        const tsNow = st.tsByUs.get(chunk.timestamp) ?? 0;
        this.hooks.video(Math.max(0, Math.round(tsNow)), avcSequenceHeader(avcC));
      }
    }
    if (!st.avcC) return; // a frame before the configuration cannot be decoded
    const ts = st.tsByUs.get(chunk.timestamp) ?? this.time;
    st.tsByUs.delete(chunk.timestamp);
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const key = chunk.type === 'key';
    const body = avcFrame(key, 0, data); // Constrained Baseline: no reordering
    this.stats.videoFrames++;
    if (key) this.stats.keyFrames++;
    this.stats.videoBytes += body.length;
    this.hooks.video(Math.max(0, Math.round(ts)), body);
  }

  // --- audio -------------------------------------------------------------

  async prepareAudio(meta) {
    if (typeof MediaStreamTrackProcessor !== 'function') throw new Error('This browser cannot read the microphone (no MediaStreamTrackProcessor).');
    const s = this.audioTrack.getSettings();
    const channels = Math.min(2, s.channelCount || 1);
    const rate = s.sampleRate || 48000;
    let codec = this.audioOptions.codec;
    const aac = { codec: 'mp4a.40.2', sampleRate: AAC_RATES.includes(rate) ? rate : 48000, numberOfChannels: channels, bitrate: this.audioOptions.bitrate || 128000 };
    const opus = { codec: 'opus', sampleRate: 48000, numberOfChannels: channels, bitrate: this.audioOptions.bitrate || 64000 };
    const canEncode = async (c) => typeof AudioEncoder === 'function' && (await AudioEncoder.isConfigSupported(c)).supported;
    if (codec === 'auto') codec = (await canEncode(aac)) ? 'aac' : 'opus';
    const st = { codec, first: null, samples: 0, seqSent: false };
    if (codec === 'aac' || codec === 'opus') {
      const config = codec === 'aac' ? aac : opus;
      if (!(await canEncode(config))) throw new Error(`This browser cannot encode ${codec === 'aac' ? 'AAC' : 'Opus'} audio; choose another codec.`);
      st.config = config;
      st.encoder = new AudioEncoder({
        output: (chunk, md) => this.onAudioChunk(st, chunk, md),
        error: (e) => this.hooks.status('NetStream.Failed', 'error', `The audio encoder failed: ${e.message}`),
      });
      st.encoder.configure(config);
      Object.assign(meta, {
        audiocodecid: codec === 'aac' ? 10 : FourCC.Opus, audiosamplerate: config.sampleRate, audiosamplesize: 16,
        stereo: channels === 2, audiodatarate: Math.round(config.bitrate / 1000),
      });
    } else if (codec === 'pcma' || codec === 'pcmu' || codec === 'pcm') {
      st.encoder = new PCMEncoder(codec, (bytes, start) => this.onPCM(st, bytes, start));
      Object.assign(meta, {
        audiocodecid: codec === 'pcma' ? 7 : codec === 'pcmu' ? 8 : 3, audiosamplerate: st.encoder.rate, audiosamplesize: 16, stereo: false,
        audiodatarate: codec === 'pcm' ? 705 : 64,
      });
    } else {
      throw new Error(`Audio codec ${codec}: want auto, aac, opus, pcma, pcmu or pcm.`);
    }
    this.stats.audioCodec = codec;
    return st;
  }

  async pumpAudio(st, gen) {
    // Audio timestamps count samples (the encoders' and the PCM path's),
    // so audio the processor drops would make the sound fall behind the
    // pictures for good. Its default queue is a few frames, which a busy
    // page thread overflows: a longer one (about 2 s) rides out most
    // stalls, and a gap that still happens is added back (skip()).
    const reader = new MediaStreamTrackProcessor({ track: this.audioTrack, maxBufferSize: AUDIO_QUEUE }).readable.getReader();
    this.readers.push(reader);
    try {
      for (;;) {
        const { value: data, done } = await reader.read();
        if (done || gen !== this.generation) { data?.close(); break; }
        if (st.first === null) {
          st.first = { us: data.timestamp, ms: performance.now() - this.origin };
          st.fedUs = 0; // audio handed to the encoder, µs of samples
          st.gaps = []; // {at: encoder µs, total: µs lost up to there}
          st.lost = 0;
        } else {
          const gap = data.timestamp - (st.first.us + st.fedUs + st.lost);
          if (gap > AUDIO_GAP) {
            st.lost += gap;
            st.gaps.push({ at: st.first.us + st.fedUs, total: st.lost });
          }
        }
        st.fedUs += (data.numberOfFrames * 1e6) / data.sampleRate;
        st.encoder.encode(data);
        data.close();
      }
    } catch (err) {
      if (gen === this.generation) this.hooks.status('NetStream.Failed', 'error', `Reading the microphone failed: ${err.message}`);
    } finally {
      if (st.encoder?.close && st.encoder.state !== 'closed') st.encoder.close();
    }
  }

  // skip is the capture time lost before the sample at encoder time us
  // (µs counted from the first sample): what the encoder's count misses.
  // Outputs come in order, so passed gaps are forgotten.
  skip(st, us) {
    while (st.gaps.length && st.gaps[0].at <= us) st.skipped = st.gaps.shift().total;
    return st.skipped ?? 0;
  }

  // audioTime maps an encoder timestamp (µs, counted from the first
  // sample's capture time) to ms of the stream.
  audioTime(st, us) {
    return Math.max(0, Math.round(st.first.ms + (us + this.skip(st, us) - st.first.us) / 1000));
  }

  onAudioChunk(st, chunk, md) {
    if (!this.running || !st.first) return;
    if (!st.seqSent) {
      const desc = md?.decoderConfig?.description;
      const d = desc ? new Uint8Array(desc instanceof ArrayBuffer ? desc : desc.buffer.slice(desc.byteOffset, desc.byteOffset + desc.byteLength)) : null;
      const c = st.config;
      const head = st.codec === 'aac'
        ? aacSequenceHeader(d ?? aacConfig(c.sampleRate, c.numberOfChannels))
        : opusSequenceStart(d && d.length >= 19 ? d : opusHead(c.numberOfChannels, 48000));
      this.hooks.audio(this.audioTime(st, chunk.timestamp), head);
      st.seqSent = true;
    }
    const data = new Uint8Array(chunk.byteLength);
    chunk.copyTo(data);
    const body = st.codec === 'aac' ? aacFrame(data) : opusFrame(data);
    this.stats.audioFrames++;
    this.stats.audioBytes += body.length;
    this.hooks.audio(this.audioTime(st, chunk.timestamp), body);
  }

  onPCM(st, bytes, start) {
    if (!this.running) return;
    const rate = st.encoder.rate;
    const ts = this.audioTime(st, st.first.us + (start * 1e6) / rate);
    const body = st.codec === 'pcm' ? pcmFrame(rate, bytes) : g711Frame(st.codec === 'pcma', bytes);
    this.stats.audioFrames++;
    this.stats.audioBytes += body.length;
    this.hooks.audio(ts, body);
  }

  stop() {
    this.running = false;
    this.generation = (this.generation ?? 0) + 1;
    for (const r of this.readers) r.cancel().catch(() => {});
    this.readers = [];
  }
}
