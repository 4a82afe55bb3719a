// G.711 against the reference values of ITU-T G.711 (Sun's g711.c tables)
// and the resampler's frequency behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearToALaw, linearToMuLaw, aLawToLinear, muLawToLinear, Resampler } from '../publisher/pcm.js';

test('G.711 known codes', () => {
  // Silence and full scale (A-law alternates even bits: 0x55/0xd5 around zero).
  assert.equal(linearToALaw(0), 0xd5);
  assert.equal(linearToALaw(-1), 0x55);
  assert.equal(linearToALaw(32767), 0xaa);
  assert.equal(linearToALaw(-32768), 0x2a);
  assert.equal(linearToMuLaw(0), 0xff);
  assert.equal(linearToMuLaw(32767), 0x80);
  assert.equal(linearToMuLaw(-32768), 0x00);
  assert.equal(aLawToLinear(0xd5), 8);
  assert.equal(muLawToLinear(0xff), 0);
});

test('G.711 round trips within a quantisation step', () => {
  for (let s = -32768; s < 32768; s += 7) {
    const a = aLawToLinear(linearToALaw(s));
    const u = muLawToLinear(linearToMuLaw(s));
    const step = Math.max(16, Math.abs(s) / 16);
    assert.ok(Math.abs(a - s) <= step * 1.1, `A-law ${s} -> ${a}`);
    assert.ok(Math.abs(u - s) <= step * 1.1, `µ-law ${s} -> ${u}`);
    // Encoding a decoded value gives the same code.
    assert.equal(linearToALaw(a), linearToALaw(s));
    assert.equal(linearToMuLaw(u), linearToMuLaw(s));
  }
});

function tone(freq, rate, n) {
  return Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * freq * i) / rate));
}

function rms(x) {
  return Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
}

test('the resampler keeps a tone below Nyquist and removes one above it', () => {
  for (const [freq, keep] of [[440, true], [6000, false]]) {
    const r = new Resampler(48000, 8000);
    const out = [];
    // Fed in odd-sized pieces, as AudioData arrives.
    const x = tone(freq, 48000, 48000);
    for (let off = 0; off < x.length; off += 441) out.push(...r.process(x.subarray(off, off + 441)));
    assert.ok(Math.abs(out.length - 8000) <= 32, `${out.length} samples out of 1 s`);
    const level = rms(Float32Array.from(out.slice(100, -100)));
    if (keep) assert.ok(level > 0.6, `${freq} Hz kept at rms ${level}`);
    else assert.ok(level < 0.1, `${freq} Hz removed, rms ${level}`);
  }
});
