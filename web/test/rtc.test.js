// The NetStream signaling of docs/webrtc.md#netstream-signaling: the
// webrtcOffer command's bytes (the same hex as rtmp/webrtc_test.go) and
// how its answers and refusals are read, and when a session falls back
// (with a stand-in RTCPeerConnection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBody, decodeBody } from '../rtmp.js';
import { MessageType } from '../chunk.js';
import { offerCommand, answerOf, refusalOf, TRANSPORTS, RTCSession } from '../rtc.js';
import { toHex } from './hex.js';

const offerHex = '02 00 0b 77 65 62 72 74 63 4f 66 66 65 72 00 40 14 00 00 00 00 00 00 05 03 00 04 6d 6f 64 65 02 00 04 70 6c 61 79 '
  + '00 04 6e 61 6d 65 02 00 01 73 00 03 73 64 70 02 00 03 76 3d 30 00 00 09';

test('webrtcOffer encodes as an AMF0 command: name, txn, null, {mode, name, sdp}', () => {
  const body = encodeBody(offerCommand(5, 'play', 's', 'v=0'));
  assert.equal(toHex(body), offerHex);
  assert.deepEqual(decodeBody(MessageType.command, body), ['webrtcOffer', 5, null, { mode: 'play', name: 's', sdp: 'v=0' }]);
});

test('webrtcOffer takes only play and publish', () => {
  assert.throws(() => offerCommand(1, 'record', 's', 'v=0'), TypeError);
  assert.equal(offerCommand(1, 'publish', 7, 'x')[3].name, '7');
});

test('the answer is the _result info object\'s sdp', () => {
  const values = ['_result', 5, null, { level: 'status', code: 'NetStream.WebRTC.Answer', sdp: 'v=0\r\n' }];
  assert.equal(answerOf(values), 'v=0\r\n');
  assert.throws(() => answerOf(['_result', 5, null, { code: 'NetStream.WebRTC.Answer' }]), (err) => err.fallback === true);
});

test('a refusal carries its status; only 403 keeps the WebSocket path from trying', () => {
  const err = refusalOf(['_error', 5, null, { level: 'error', code: 'NetStream.WebRTC.Failed', description: 'B-frames', status: 422 }]);
  assert.equal(err.status, 422);
  assert.equal(err.fallback, true);
  assert.match(err.message, /^422 B-frames/);
  for (const status of [400, 404, 406, 409, 503]) assert.equal(refusalOf([, , , { status }]).fallback, true);
  assert.equal(refusalOf(['_error', 5, null, { status: 403, description: 'no' }]).fallback, false);
  assert.equal(refusalOf(undefined).status, 0);
});

test('the transports', () => {
  assert.deepEqual(TRANSPORTS, ['auto', 'webrtc', 'websocket']);
});

// FakePeer stands for RTCPeerConnection: it connects (or fails, or
// never does) after the answer, and its getStats reports what the test
// says.
class FakePeer extends EventTarget {
  static behaviour = { connect: 'connected', stats: [] };

  constructor() {
    super();
    this.connectionState = 'new';
    this.iceGatheringState = 'complete';
    this.localDescription = null;
    this.closed = false;
  }

  addTransceiver() {}

  async createOffer() { return { type: 'offer', sdp: 'v=0 offer' }; }

  async setLocalDescription(d) { this.localDescription = d; }

  async setRemoteDescription(d) {
    this.remote = d;
    const to = FakePeer.behaviour.connect;
    if (to === 'never') return;
    setTimeout(() => {
      this.connectionState = to;
      this.dispatchEvent(new Event('connectionstatechange'));
    }, 5);
  }

  async getStats() { return new Map(FakePeer.behaviour.stats.map((r, i) => [String(i), r])); }

  close() { this.closed = true; }
}

async function session(behaviour, send) {
  FakePeer.behaviour = behaviour;
  globalThis.RTCPeerConnection = FakePeer;
  globalThis.MediaStream = class { addTrack() {} };
  const hooks = {
    send: send ?? (async (sdp) => ['_result', 3, null, { code: 'NetStream.WebRTC.Answer', sdp: `answer to ${sdp}` }]),
    view: () => null,
    tracks: () => [],
  };
  const s = new RTCSession('play', hooks, { connectTimeout: 100, mediaTimeout: 300 });
  try {
    await s.start('s');
    return { s, err: null };
  } catch (err) {
    return { s, err };
  } finally {
    delete globalThis.RTCPeerConnection;
    delete globalThis.MediaStream;
  }
}

test('a peer that connects and decodes a frame is in use', async () => {
  const { s, err } = await session({ connect: 'connected', stats: [{ type: 'inbound-rtp', kind: 'video', framesDecoded: 1 }] });
  assert.equal(err, null);
  assert.equal(s.pc.remote.sdp, 'answer to v=0 offer');
});

test('ICE failing, no connection in time, or no media in time fall back', async () => {
  for (const [behaviour, want] of [
    [{ connect: 'failed', stats: [] }, /ICE or DTLS failed/],
    [{ connect: 'never', stats: [] }, /no connection within 0.1 s/],
    [{ connect: 'connected', stats: [{ type: 'inbound-rtp', kind: 'video', framesDecoded: 0 }] }, /no media within 0.3 s/],
  ]) {
    const { err } = await session(behaviour);
    assert.ok(err, `${behaviour.connect}: no error`);
    assert.match(err.message, want);
    assert.equal(err.fallback, true);
  }
});

test('a refused offer rejects with the status; 403 does not fall back', async () => {
  const refuse = (status) => async () => { throw ['_error', 3, null, { code: 'NetStream.WebRTC.Failed', status, description: 'why' }]; };
  let { err } = await session({ connect: 'connected', stats: [] }, refuse(422));
  assert.equal(err.status, 422);
  assert.equal(err.fallback, true);
  ({ err } = await session({ connect: 'connected', stats: [] }, refuse(403)));
  assert.equal(err.fallback, false);
});
