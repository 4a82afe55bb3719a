// FLV tag bodies: codec strings, configurations and the tags the publisher writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseVideo, parseAudio, avcInBandConfig, hevcCodecString, av1CodecString, parseAudioSpecificConfig, UnsupportedCodec,
  avcSequenceHeader, avcFrame, opusSequenceStart, opusFrame, opusHead, g711Frame, pcmFrame, aacSequenceHeader, isSequenceHeader,
} from '../flv.js';
import { hex, toHex } from './hex.js';

// The first tags of `ffmpeg -f lavfi -i testsrc -c:v libx264 -f tee [f=flv]out.flv` (no global header).
const emptySeqHeader = hex('17 00 00 00 00');
const annexBKey = hex('17 01 00 00 50 00 00 00 01 67 64 00 0d ac d9 41 41 fb 01 10 00 00 03 00 10 00 00 03 03 20 f1 42 99 60 00 00 00 01 68 ef 00 00 01 65 88');

test('AVC sequence header and frames', () => {
  const avcC = hex('01 64 00 1f ff e1 00 04 67 64 00 1f 01 00 02 68 ef');
  assert.deepEqual(parseVideo(avcSequenceHeader(avcC)), { config: { codec: 'avc1.64001f', description: avcC } });
  const f = parseVideo(hex('27 01 00 00 50 00 00 00 02 41 9a'));
  assert.equal(f.frame.key, false);
  assert.equal(f.frame.cts, 80);
  assert.equal(toHex(f.frame.data), '00 00 00 02 41 9a');
  assert.equal(parseVideo(hex('27 01 ff ff d8 00')).frame.cts, -40, 'negative composition times');
  assert.equal(toHex(avcFrame(true, 80, hex('00 00 00 01 65'))), '17 01 00 00 50 00 00 00 01 65');
});

test('an empty sequence header and in-band parameter sets (ffmpeg tee muxer)', () => {
  assert.equal(parseVideo(emptySeqHeader), null);
  const f = parseVideo(annexBKey).frame;
  assert.deepEqual(avcInBandConfig(f.data), { codec: 'avc1.64000d' });
  const avcc = hex('00 00 00 04 67 42 c0 1e  00 00 00 02 68 ce  00 00 00 02 65 88');
  const c = avcInBandConfig(avcc);
  assert.equal(c.codec, 'avc1.42c01e');
  assert.equal(toHex(c.description), '01 42 c0 1e ff e1 00 04 67 42 c0 1e 01 00 02 68 ce');
  assert.equal(avcInBandConfig(hex('00 00 00 02 65 88')), null, 'no parameter sets');
});

test('E-RTMP video', () => {
  const hvcC = hex('01 01 60 00 00 00 90 00 00 00 00 00 5d f0 00 fc fd f8 f8 00 00 0f');
  assert.equal(hevcCodecString(hvcC), 'hvc1.1.6.L93.90');
  const seq = new Uint8Array([0x90, 0x68, 0x76, 0x63, 0x31, ...hvcC]);
  assert.equal(parseVideo(seq).config.codec, 'hvc1.1.6.L93.90');
  const coded = hex('91 68 76 63 31 00 00 28 aa bb');
  assert.deepEqual({ ...parseVideo(coded).frame, data: toHex(parseVideo(coded).frame.data) }, { key: true, cts: 40, data: 'aa bb', avc: false });
  const codedX = hex('a3 68 76 63 31 aa');
  assert.deepEqual(parseVideo(codedX).frame.cts, 0);
  assert.equal(av1CodecString(hex('81 08 0c 00')), 'av01.0.08M.08');
  assert.equal(parseVideo(hex('d0 00')), null, 'command frame');
});

test('codecs the browser cannot decode are named', () => {
  for (const [parse, body, name] of [[parseVideo, '22 00', 'Sorenson H.263'], [parseVideo, '24 00', 'VP6'],
    [parseAudio, '62 00', 'Nellymoser'], [parseAudio, 'b2 00', 'Speex']]) {
    assert.throws(() => parse(hex(body)), (err) => err instanceof UnsupportedCodec && err.message.includes(name), body);
  }
});

test('audio tags', () => {
  const asc = hex('12 10');
  assert.deepEqual(parseAudioSpecificConfig(asc), { objectType: 2, sampleRate: 44100, channels: 2 });
  assert.deepEqual(parseAudio(aacSequenceHeader(asc)).config, { codec: 'mp4a.40.2', sampleRate: 44100, numberOfChannels: 2, description: asc });
  assert.equal(parseAudio(hex('af 00')), null);
  assert.deepEqual(parseAudio(g711Frame(true, hex('d5 d5'))).frame.config, { codec: 'alaw', sampleRate: 8000, numberOfChannels: 1 });
  assert.equal(toHex(g711Frame(false, hex('ff'))), '82 ff');
  assert.deepEqual(parseAudio(pcmFrame(44100, hex('00 00'))).frame.config, { codec: 'pcm-s16le', sampleRate: 44100, numberOfChannels: 1, pcm: true });
  const mp3 = parseAudio(hex('2f ff fb 90 64 00'));
  assert.deepEqual(mp3.frame.config, { codec: 'mp3', sampleRate: 44100, numberOfChannels: 2 });
  const head = opusHead(1, 48000);
  assert.equal(toHex(head), '4f 70 75 73 48 65 61 64 01 01 38 01 80 bb 00 00 00 00 00');
  assert.deepEqual(parseAudio(opusSequenceStart(head)).config, { codec: 'opus', sampleRate: 48000, numberOfChannels: 1, description: head });
  assert.equal(toHex(opusFrame(hex('fc ff'))), '91 4f 70 75 73 fc ff');
  assert.equal(toHex(parseAudio(opusFrame(hex('fc ff'))).frame.data), 'fc ff');
});

test('isSequenceHeader tells configurations from frames by the tag header', () => {
  const avcC = hex('01 64 00 1f ff e1 00 04 67 64 00 1f 01 00 02 68 ef');
  assert.equal(isSequenceHeader('video', avcSequenceHeader(avcC)), true);
  assert.equal(isSequenceHeader('video', emptySeqHeader), true);
  assert.equal(isSequenceHeader('video', annexBKey), false);
  assert.equal(isSequenceHeader('audio', opusSequenceStart(opusHead(2, 48000))), true);
  assert.equal(isSequenceHeader('audio', opusFrame(hex('fc 00'))), false);
  assert.equal(isSequenceHeader('audio', aacSequenceHeader(hex('12 10'))), true);
  assert.equal(isSequenceHeader('audio', hex('af 01 21 00')), false);
  assert.equal(isSequenceHeader('audio', g711Frame(true, hex('d5 d5'))), false);
  assert.equal(isSequenceHeader('video', hex('90 68 76 63 31 01')), true); // E-RTMP SequenceStart, hvc1
  assert.equal(isSequenceHeader('video', hex('91 68 76 63 31 00 00 00 65')), false); // E-RTMP CodedFrames
  assert.equal(isSequenceHeader('video', hex('17')), false);
});
