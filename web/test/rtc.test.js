// The NetStream signaling of docs/webrtc.md#netstream-signaling: the
// webrtcOffer command's bytes (the same hex as rtmp/webrtc_test.go) and
// how its answers and refusals are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBody, decodeBody } from '../rtmp.js';
import { MessageType } from '../chunk.js';
import { offerCommand, answerOf, refusalOf, TRANSPORTS } from '../rtc.js';
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
