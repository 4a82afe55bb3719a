// The player's feed window, without a browser: a recorder stands in for
// the decoders.

import test from 'node:test';
import assert from 'node:assert/strict';
import { Player } from '../player/player.js';
import { avcSequenceHeader, avcFrame, opusSequenceStart, opusFrame, opusHead } from '../flv.js';

function newPlayer() {
  const p = new Player({ worker: false, status() {}, data() {}, bufferTime: () => 0.1 });
  const fed = [];
  p.decoders = {
    video: (ts, payload) => fed.push(['video', ts, payload]),
    audio: (ts, payload) => fed.push(['audio', ts, payload]),
    drain() {}, flush() {}, close() {},
  };
  return { p, fed };
}

const avcC = Uint8Array.from([1, 0x42, 0xe0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xe0, 0x1f, 1, 0, 4, 0x68, 0xce, 0x3c, 0x80]);

// A late joiner gets the configurations cached at publish start (ts 0)
// and then the GOP, seconds later: the GOP's first half-second must reach
// the decoders before anything has been decoded.
test('configurations published long before the GOP do not hold it back', () => {
  const { p, fed } = newPlayer();
  p.onVideo(0, avcSequenceHeader(avcC));
  p.onAudio(0, opusSequenceStart(opusHead(2, 48000)));
  for (let i = 0; i < 30; i++) {
    const ts = 17000 + i * 33;
    p.onVideo(ts, avcFrame(i === 0, 0, Uint8Array.of(0, 0, 0, 1, i === 0 ? 0x65 : 0x41)));
    p.onAudio(ts, opusFrame(Uint8Array.of(0xfc, i)));
  }
  const media = fed.filter(([, ts]) => ts >= 17000);
  assert.equal(fed.filter(([, ts]) => ts === 0).length, 2, 'both configurations fed');
  assert.ok(media.length > 0, 'no frame of the GOP was fed');
  assert.ok(media.every(([, ts]) => ts <= 17000 + 500), 'fed beyond the first half-second before the clock started');
  assert.equal(media[0][1], 17000);
  p.close();
});

test('a window that decodes nothing moves on after a while', async () => {
  const { p, fed } = newPlayer();
  for (let i = 0; i < 60; i++) p.onVideo(i * 33, avcFrame(false, 0, Uint8Array.of(0, 0, 0, 1, 0x41)));
  const n = fed.length;
  assert.ok(n > 0 && n < 60);
  await new Promise((r) => setTimeout(r, 1100));
  p.onVideo(60 * 33, avcFrame(false, 0, Uint8Array.of(0, 0, 0, 1, 0x41)));
  assert.ok(fed.length > n, 'the window never moved on');
  p.close();
});
