// FLV audio and video message bodies (docs/flv.md#audio-tags,
// docs/flv.md#video-tags, docs/rtmp.md#enhanced-rtmp): reading them into
// samples a WebCodecs decoder takes (codec string, description,
// composition time), and writing the tags a browser publisher sends.

/** Legacy FLV video codec ids. */
export const VideoCodecId = Object.freeze({ jpeg: 1, sorenson: 2, screen: 3, vp6: 4, vp6a: 5, screen2: 6, avc: 7, hevcFork: 12, av1Fork: 13 });
/** FLV sound formats. */
export const SoundFormat = Object.freeze({
  pcm: 0, adpcm: 1, mp3: 2, pcmLE: 3, nelly16k: 4, nelly8k: 5, nelly: 6, alaw: 7, mulaw: 8, exHeader: 9, aac: 10, speex: 11, mp38k: 14,
});

const fourcc = (s) => (s.charCodeAt(0) << 24 | s.charCodeAt(1) << 16 | s.charCodeAt(2) << 8 | s.charCodeAt(3)) >>> 0;
/** E-RTMP FourCCs as numbers (also metadata's videocodecid/audiocodecid for E-RTMP codecs). */
export const FourCC = Object.freeze({
  avc1: fourcc('avc1'), hvc1: fourcc('hvc1'), av01: fourcc('av01'), vp09: fourcc('vp09'), vp08: fourcc('vp08'), vvc1: fourcc('vvc1'),
  Opus: fourcc('Opus'), fLaC: fourcc('fLaC'), mp4a: fourcc('mp4a'), mp3: fourcc('.mp3'), ac3: fourcc('ac-3'), ec3: fourcc('ec-3'),
});

export function fourccString(n) {
  return String.fromCharCode(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

const VIDEO_NAMES = {
  1: 'JPEG video', 2: 'Sorenson H.263 video', 3: 'Screen Video', 4: 'On2 VP6 video', 5: 'On2 VP6 with alpha video', 6: 'Screen Video 2',
};
const AUDIO_NAMES = {
  1: 'ADPCM audio', 4: 'Nellymoser 16 kHz audio', 5: 'Nellymoser 8 kHz audio', 6: 'Nellymoser audio', 11: 'Speex audio', 15: 'device-specific audio',
};

/** UnsupportedCodec describes a codec this library cannot hand to WebCodecs. */
export class UnsupportedCodec extends Error {
  constructor(kind, name) {
    super(`${name} cannot be decoded in the browser: WebCodecs has no decoder for it and the server did not convert it`);
    this.name = 'UnsupportedCodec';
    this.kind = kind;
    this.codecName = name;
  }
}

function si24(b, off) {
  const v = (b[off] << 16) | (b[off + 1] << 8) | b[off + 2];
  return v & 0x800000 ? v - 0x1000000 : v;
}

function hex2(n) { return n.toString(16).padStart(2, '0'); }

/** avcCodecString derives "avc1.PPCCLL" from an AVCDecoderConfigurationRecord. */
export function avcCodecString(avcC) {
  if (avcC.length < 4) throw new Error('flv: AVC configuration record too short');
  return `avc1.${hex2(avcC[1])}${hex2(avcC[2])}${hex2(avcC[3])}`;
}

/**
 * avcInBandConfig derives a decoder configuration from the SPS and PPS a
 * keyframe carries in-band, or returns null. Publishers whose encoder had
 * no global header (ffmpeg's tee muxer) send an empty sequence header and
 * keyframes with SPS and PPS; ffmpeg 5.1 even leaves those frames in Annex
 * B form (start codes), which WebCodecs decodes when configured without a
 * description. Length-prefixed frames get a built configuration record.
 */
export function avcInBandConfig(data) {
  const annexB = data.length > 4 && data[0] === 0 && data[1] === 0 && (data[2] === 1 || (data[2] === 0 && data[3] === 1));
  const sps = [];
  const pps = [];
  if (annexB) {
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
        const type = data[i + 3] & 0x1f;
        if (type === 7 && i + 7 <= data.length) sps.push(data.subarray(i + 3, i + 7));
        if (type === 8) pps.push(null);
        i += 2;
      }
    }
    if (sps.length === 0 || pps.length === 0) return null;
    return { codec: avcCodecString(sps[0]) };
  }
  for (let off = 0; off + 4 <= data.length;) {
    const n = ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
    off += 4;
    if (n === 0 || off + n > data.length) return null;
    const type = data[off] & 0x1f;
    if (type === 7) sps.push(data.subarray(off, off + n));
    if (type === 8) pps.push(data.subarray(off, off + n));
    off += n;
  }
  if (sps.length === 0 || pps.length === 0 || sps[0].length < 4) return null;
  const size = 7 + sps.reduce((t, x) => t + 2 + x.length, 0) + pps.reduce((t, x) => t + 2 + x.length, 0);
  const out = new Uint8Array(size);
  out.set([1, sps[0][1], sps[0][2], sps[0][3], 0xff, 0xe0 | sps.length], 0);
  let o = 6;
  for (const x of sps) { out[o++] = x.length >> 8; out[o++] = x.length & 0xff; out.set(x, o); o += x.length; }
  out[o++] = pps.length;
  for (const x of pps) { out[o++] = x.length >> 8; out[o++] = x.length & 0xff; out.set(x, o); o += x.length; }
  return { codec: avcCodecString(out), description: out };
}

/** hevcCodecString derives the RFC 6381 string from an HEVCDecoderConfigurationRecord. */
export function hevcCodecString(hvcC) {
  if (hvcC.length < 13) throw new Error('flv: HEVC configuration record too short');
  const space = hvcC[1] >> 6;
  const tier = (hvcC[1] >> 5) & 1;
  const profile = hvcC[1] & 0x1f;
  let compat = ((hvcC[2] << 24) | (hvcC[3] << 16) | (hvcC[4] << 8) | hvcC[5]) >>> 0;
  // The compatibility flags are written bit-reversed (ISO/IEC 14496-15 E.3).
  let rev = 0;
  for (let i = 0; i < 32; i++) { rev = (rev << 1) | (compat & 1); compat >>>= 1; }
  const cons = Array.from(hvcC.subarray(6, 12));
  while (cons.length > 0 && cons[cons.length - 1] === 0) cons.pop();
  const parts = [`hvc1.${['', 'A', 'B', 'C'][space]}${profile}`, (rev >>> 0).toString(16), `${tier ? 'H' : 'L'}${hvcC[12]}`];
  for (const c of cons) parts.push(c.toString(16));
  return parts.join('.');
}

/** av1CodecString derives "av01.P.LLT.DD" from an AV1CodecConfigurationRecord. */
export function av1CodecString(av1C) {
  if (av1C.length < 4) throw new Error('flv: AV1 configuration record too short');
  const profile = av1C[1] >> 5;
  const level = av1C[1] & 0x1f;
  const tier = av1C[2] >> 7;
  const high = (av1C[2] >> 6) & 1;
  const twelve = (av1C[2] >> 5) & 1;
  const depth = high ? (twelve ? 12 : 10) : 8;
  return `av01.${profile}.${String(level).padStart(2, '0')}${tier ? 'H' : 'M'}.${String(depth).padStart(2, '0')}`;
}

/** vp9CodecString derives "vp09.PP.LL.DD" from a VPCodecConfigurationRecord (vpcC box body). */
export function vp9CodecString(vpcC) {
  if (vpcC.length < 7) throw new Error('flv: VP9 configuration record too short');
  const p = vpcC.subarray(4); // version and flags
  return `vp09.${String(p[0]).padStart(2, '0')}.${String(p[1]).padStart(2, '0')}.${String(p[2] >> 4).padStart(2, '0')}`;
}

const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** parseAudioSpecificConfig reads the object type, sample rate and channels of an AAC AudioSpecificConfig. */
export function parseAudioSpecificConfig(asc) {
  if (asc.length < 2) throw new Error('flv: AAC AudioSpecificConfig too short');
  let bit = 0;
  const read = (n) => {
    let v = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = asc[bit >> 3];
      if (byte === undefined) throw new Error('flv: AAC AudioSpecificConfig truncated');
      v = (v << 1) | ((byte >> (7 - (bit & 7))) & 1);
    }
    return v;
  };
  let aot = read(5);
  if (aot === 31) aot = 32 + read(6);
  const fi = read(4);
  const sampleRate = fi === 15 ? read(24) : AAC_RATES[fi];
  const channels = read(4);
  return { objectType: aot, sampleRate, channels: channels || 2 };
}

const MP3_RATES = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** parseMP3Header reads sample rate and channels from the first MPEG audio frame header. */
export function parseMP3Header(b) {
  for (let i = 0; i + 4 <= b.length; i++) {
    if (b[i] === 0xff && (b[i + 1] & 0xe0) === 0xe0) {
      const version = (b[i + 1] >> 3) & 3;
      const ri = (b[i + 2] >> 2) & 3;
      if (version === 1 || ri === 3) continue;
      return { sampleRate: MP3_RATES[version][ri], channels: (b[i + 3] >> 6) === 3 ? 1 : 2 };
    }
  }
  return null;
}

/**
 * parseVideo reads a video message body. Returns null for bodies with no
 * picture or configuration (command frames, metadata, end of sequence), or
 * {config: {codec, description}} for a sequence header, or {frame: {key,
 * cts, data}} for coded frames; data aliases the body. Throws
 * UnsupportedCodec for codecs WebCodecs cannot take.
 */
export function parseVideo(p) {
  if (p.length < 1) throw new Error('flv: empty video message');
  const b0 = p[0];
  if ((b0 & 0x80) === 0) {
    const frameType = b0 >> 4;
    const codec = b0 & 0x0f;
    if (frameType === 5) return null; // video info / command frame
    if (codec !== VideoCodecId.avc && codec !== VideoCodecId.hevcFork && codec !== VideoCodecId.av1Fork) {
      throw new UnsupportedCodec('video', VIDEO_NAMES[codec] ?? `video codec ${codec}`);
    }
    if (p.length < 5) throw new Error('flv: truncated AVC packet header');
    const pt = p[1];
    const data = p.subarray(5);
    if (pt === 0) {
      // An empty sequence header (ffmpeg's tee muxer writes one before the
      // encoder's) configures nothing.
      if (data.length === 0) return null;
      const codecString = codec === VideoCodecId.avc ? avcCodecString(data) : codec === VideoCodecId.hevcFork ? hevcCodecString(data) : av1CodecString(data);
      return { config: { codec: codecString, description: data.slice() } };
    }
    if (pt !== 1) return null;
    return { frame: { key: frameType === 1, cts: si24(p, 2), data, avc: codec === VideoCodecId.avc } };
  }
  // E-RTMP ExVideoTagHeader.
  const frameType = (b0 >> 4) & 7;
  let pt = b0 & 0x0f;
  let off = 1;
  while (pt === 7) { // ModEx: skip the modifier data
    if (off >= p.length) throw new Error('flv: truncated ModEx');
    let n = p[off++] + 1;
    if (n === 256) { n = ((p[off] << 8) | p[off + 1]) + 1; off += 2; }
    off += n;
    if (off >= p.length) throw new Error('flv: truncated ModEx');
    pt = p[off++] & 0x0f;
  }
  if (pt === 4) return null; // metadata (colorInfo)
  if (frameType === 5) return null;
  if (pt === 6) {
    // Multitrack: only the first track is played. OneTrack: FourCC, track
    // id. ManyTracks: FourCC, then id and size per track. ManyTracksManyCodecs:
    // FourCC, id and size per track.
    if (off >= p.length) throw new Error('flv: truncated multitrack header');
    const mt = p[off] >> 4;
    pt = p[off] & 0x0f;
    off++;
    if (off + 5 > p.length) throw new Error('flv: truncated multitrack header');
    const fcc = readU32(p, off);
    off += 5; // FourCC and track id
    if (mt === 0) return exVideo(p, off, fcc, pt, frameType);
    if (off + 3 > p.length) throw new Error('flv: truncated track size');
    const size = (p[off] << 16) | (p[off + 1] << 8) | p[off + 2];
    off += 3;
    return exVideo(p.subarray(0, off + size), off, fcc, pt, frameType);
  }
  if (off + 4 > p.length) throw new Error('flv: truncated FourCC');
  const fcc = readU32(p, off);
  off += 4;
  return exVideo(p, off, fcc, pt, frameType);
}

function readU32(p, off) {
  return ((p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3]) >>> 0;
}

function exVideo(p, off, fcc, pt, frameType) {
  let codecString;
  switch (fcc) {
    case FourCC.avc1: codecString = avcCodecString; break;
    case FourCC.hvc1: codecString = hevcCodecString; break;
    case FourCC.av01: codecString = av1CodecString; break;
    case FourCC.vp09: codecString = vp9CodecString; break;
    case FourCC.vp08: codecString = () => 'vp8'; break;
    default: throw new UnsupportedCodec('video', `E-RTMP video ${fourccString(fcc)}`);
  }
  if (pt === 0) {
    const data = p.subarray(off);
    if (data.length === 0) return null;
    return { config: { codec: codecString(data), description: fcc === FourCC.vp09 || fcc === FourCC.vp08 ? undefined : data.slice() } };
  }
  if (pt === 1 || pt === 3) {
    let cts = 0;
    if (pt === 1 && (fcc === FourCC.avc1 || fcc === FourCC.hvc1 || fcc === FourCC.vvc1)) {
      cts = si24(p, off);
      off += 3;
    }
    return { frame: { key: frameType === 1, cts, data: p.subarray(off), avc: fcc === FourCC.avc1 } };
  }
  return null; // end of sequence, MPEG-2 TS sequence start
}

/**
 * isSequenceHeader tells, from the tag header alone, whether an audio or
 * video message body is a codec configuration (AVC/HEVC/AV1 or AAC
 * sequence header, E-RTMP SequenceStart, first track of a multitrack
 * one). Cheap enough for every message on the page's thread; ModEx
 * bodies answer false.
 */
export function isSequenceHeader(kind, p) {
  if (p.length < 2) return false;
  const b0 = p[0];
  if (kind === 'video') {
    if ((b0 & 0x80) === 0) {
      const codec = b0 & 0x0f;
      return (codec === VideoCodecId.avc || codec === VideoCodecId.hevcFork || codec === VideoCodecId.av1Fork) && p[1] === 0;
    }
    const pt = b0 & 0x0f;
    return pt === 0 || (pt === 6 && (p[1] & 0x0f) === 0);
  }
  const format = b0 >> 4;
  if (format === SoundFormat.aac) return p[1] === 0;
  if (format !== SoundFormat.exHeader) return false;
  const pt = b0 & 0x0f;
  return pt === 0 || (pt === 5 && (p[1] & 0x0f) === 0);
}

/**
 * parseAudio reads an audio message body. Returns null for bodies without
 * samples, {config: {...}} for a sequence header, or {frame: {data,
 * config}} where config is the decoder configuration the frame needs when
 * the codec has no sequence header (MP3, G.711, PCM). config: {codec,
 * sampleRate, numberOfChannels, description?, pcm?}.
 */
export function parseAudio(p) {
  if (p.length < 1) throw new Error('flv: empty audio message');
  const b0 = p[0];
  const format = b0 >> 4;
  const rate = [5512, 11025, 22050, 44100][(b0 >> 2) & 3];
  const channels = (b0 & 1) + 1;
  const bits16 = (b0 & 2) !== 0;
  switch (format) {
    case SoundFormat.aac: {
      if (p.length < 2) throw new Error('flv: truncated AAC packet header');
      const data = p.subarray(2);
      if (p[1] === 0) {
        if (data.length === 0) return null;
        const asc = parseAudioSpecificConfig(data);
        return { config: { codec: `mp4a.40.${asc.objectType}`, sampleRate: asc.sampleRate, numberOfChannels: asc.channels, description: data.slice() } };
      }
      return { frame: { data } };
    }
    case SoundFormat.mp3: case SoundFormat.mp38k: {
      const data = p.subarray(1);
      const h = parseMP3Header(data);
      return { frame: { data, config: { codec: 'mp3', sampleRate: h?.sampleRate ?? (format === SoundFormat.mp38k ? 8000 : rate), numberOfChannels: h?.channels ?? channels } } };
    }
    case SoundFormat.alaw: case SoundFormat.mulaw:
      return { frame: { data: p.subarray(1), config: { codec: format === SoundFormat.alaw ? 'alaw' : 'ulaw', sampleRate: 8000, numberOfChannels: channels } } };
    case SoundFormat.pcm: case SoundFormat.pcmLE:
      return { frame: { data: p.subarray(1), config: { codec: bits16 ? 'pcm-s16le' : 'pcm-u8', sampleRate: rate, numberOfChannels: channels, pcm: true } } };
    case SoundFormat.exHeader:
      return exAudio(p);
    default:
      throw new UnsupportedCodec('audio', AUDIO_NAMES[format] ?? `audio format ${format}`);
  }
}

function exAudio(p) {
  let pt = p[0] & 0x0f;
  let off = 1;
  while (pt === 7) {
    if (off >= p.length) throw new Error('flv: truncated ModEx');
    let n = p[off++] + 1;
    if (n === 256) { n = ((p[off] << 8) | p[off + 1]) + 1; off += 2; }
    off += n;
    if (off >= p.length) throw new Error('flv: truncated ModEx');
    pt = p[off] & 0x0f; // the low nibble, after the modifier type
    off++;
  }
  if (pt === 5) { // multitrack: the first track, laid out as for video
    if (off + 6 > p.length) throw new Error('flv: truncated multitrack header');
    const mt = p[off] >> 4;
    pt = p[off] & 0x0f;
    const fcc = readU32(p, off + 1);
    off += 6; // type byte, FourCC, track id
    if (mt !== 0) off += 3;
    return exAudioTrack(p, off, fcc, pt);
  }
  if (off + 4 > p.length) throw new Error('flv: truncated FourCC');
  return exAudioTrack(p, off + 4, readU32(p, off), pt);
}

function exAudioTrack(p, off, fcc, pt) {
  const data = p.subarray(off);
  if (pt === 2 || pt === 4) return null; // end of sequence, channel layout
  switch (fcc) {
    case FourCC.Opus:
      if (pt === 0) {
        // OpusHead: channels at 9, input sample rate (LE) at 12.
        const channels = data.length >= 10 ? data[9] : 2;
        return { config: { codec: 'opus', sampleRate: 48000, numberOfChannels: channels, description: data.slice() } };
      }
      return { frame: { data } };
    case FourCC.mp4a:
      if (pt === 0) {
        const asc = parseAudioSpecificConfig(data);
        return { config: { codec: `mp4a.40.${asc.objectType}`, sampleRate: asc.sampleRate, numberOfChannels: asc.channels, description: data.slice() } };
      }
      return { frame: { data } };
    case FourCC.mp3: {
      if (pt === 0) return null;
      const h = parseMP3Header(data);
      return { frame: { data, config: { codec: 'mp3', sampleRate: h?.sampleRate ?? 44100, numberOfChannels: h?.channels ?? 2 } } };
    }
    default:
      throw new UnsupportedCodec('audio', `E-RTMP audio ${fourccString(fcc)}`);
  }
}

// ---------------------------------------------------------------------------
// Writing tags (the publisher)

function tag(head, body) {
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** avcSequenceHeader returns the AVC sequence header tag body for an avcC record. */
export function avcSequenceHeader(avcC) {
  return tag([0x17, 0, 0, 0, 0], avcC);
}

/** avcFrame returns an AVC NALU tag body (data in AVCC length-prefixed form). */
export function avcFrame(key, cts, data) {
  return tag([key ? 0x17 : 0x27, 1, (cts >> 16) & 0xff, (cts >> 8) & 0xff, cts & 0xff], data);
}

/** aacSequenceHeader returns the AAC sequence header tag body (44 kHz, 16-bit, stereo flags as ffmpeg writes). */
export function aacSequenceHeader(asc) {
  return tag([0xaf, 0], asc);
}

/** aacFrame returns an AAC raw frame tag body. */
export function aacFrame(data) {
  return tag([0xaf, 1], data);
}

const OPUS = [0x4f, 0x70, 0x75, 0x73]; // "Opus"

/** opusSequenceStart returns the E-RTMP Opus SequenceStart tag body for an OpusHead. */
export function opusSequenceStart(opusHead) {
  return tag([0x90, ...OPUS], opusHead);
}

/** opusFrame returns an E-RTMP Opus CodedFrames tag body. */
export function opusFrame(data) {
  return tag([0x91, ...OPUS], data);
}

/** opusHead builds an OpusHead (RFC 7845 section 5.1) for mapping family 0. */
export function opusHead(channels, inputRate, preSkip = 312) {
  const b = new Uint8Array(19);
  b.set([0x4f, 0x70, 0x75, 0x73, 0x48, 0x65, 0x61, 0x64, 1, channels]);
  const dv = new DataView(b.buffer);
  dv.setUint16(10, preSkip, true);
  dv.setUint32(12, inputRate, true);
  return b;
}

/** g711Frame returns a G.711 tag body (8 kHz mono; flags as ffmpeg writes them). */
export function g711Frame(alaw, data) {
  return tag([alaw ? 0x72 : 0x82], data);
}

/** pcmFrame returns a linear PCM (16-bit little-endian, mono) tag body at 11, 22 or 44 kHz. */
export function pcmFrame(rate, data) {
  const r = { 11025: 1, 22050: 2, 44100: 3 }[rate];
  if (r === undefined) throw new RangeError(`PCM rate ${rate}: want 11025, 22050 or 44100`);
  return tag([0x30 | (r << 2) | 0x02], data);
}
