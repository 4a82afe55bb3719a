// The byte examples of docs/shared-objects.md#byte-examples, the same hex as
// sharedobject/wire/wire_test.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSOMessage, encodeSOMessage, SOEvent, SOError, SharedObject, SyncEvent } from '../sharedobject.js';
import { hex, toHex } from './hex.js';

const chatHdr = '00 04 63 68 61 74';
const E = SOEvent;

const vectors = [
  ['doc 4a use temporary', false, `${chatHdr} 00 00 00 00  00 00 00 00  00 00 00 00  01 00 00 00 00`,
    { name: 'chat', version: 0, flags: 0, events: [{ type: E.use }] }],
  ['doc 4a use persistent', false, `${chatHdr} 00 00 00 00  00 00 00 02  00 00 00 00  01 00 00 00 00`,
    { name: 'chat', version: 0, flags: 2, events: [{ type: E.use }] }],
  ['doc 4b use success', false, `${chatHdr} 00 00 00 02  00 00 00 00  00 00 00 00
      0b 00 00 00 00
      08 00 00 00 00
      04 00 00 00 0c  00 05 74 6f 70 69 63  02 00 02 47 6f
      04 00 00 00 10  00 05 63 6f 75 6e 74  00 40 08 00 00 00 00 00 00`,
  { name: 'chat', version: 2, flags: 0, events: [{ type: E.useSuccess }, { type: E.clear },
    { type: E.change, key: 'topic', value: 'Go' }, { type: E.change, key: 'count', value: 3 }] }],
  ['doc 4c request change', false, `${chatHdr} 00 00 00 02  00 00 00 00  00 00 00 00  03 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69`,
    { name: 'chat', version: 2, flags: 0, events: [{ type: E.requestChange, key: 'msg', value: 'hi' }] }],
  ['doc 4c request change type 16', true, `00 ${chatHdr} 00 00 00 02  00 00 00 00  00 00 00 00  03 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69`,
    { name: 'chat', version: 2, flags: 0, events: [{ type: E.requestChange, key: 'msg', value: 'hi' }] }],
  ['doc 4d success', false, `${chatHdr} 00 00 00 03  00 00 00 00  00 00 00 00  05 00 00 00 05  00 03 6d 73 67`,
    { name: 'chat', version: 3, flags: 0, events: [{ type: E.success, key: 'msg' }] }],
  ['doc 4d change', false, `${chatHdr} 00 00 00 03  00 00 00 00  00 00 00 00  04 00 00 00 0a  00 03 6d 73 67  02 00 02 68 69`,
    { name: 'chat', version: 3, flags: 0, events: [{ type: E.change, key: 'msg', value: 'hi' }] }],
  ['doc 4e send message', false, `${chatHdr} 00 00 00 03  00 00 00 00  00 00 00 00  06 00 00 00 12  02 00 07 6e 65 77 4c 69 6e 65  02 00 05 68 65 6c 6c 6f`,
    { name: 'chat', version: 3, flags: 0, events: [{ type: E.sendMessage, key: 'newLine', args: ['hello'] }] }],
  ['doc 4f request remove', false, `${chatHdr} 00 00 00 03  00 00 00 00  00 00 00 00  0a 00 00 00 05  00 03 6d 73 67`,
    { name: 'chat', version: 3, flags: 0, events: [{ type: E.requestRemove, key: 'msg' }] }],
  ['doc 4f remove', false, `${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  09 00 00 00 05  00 03 6d 73 67`,
    { name: 'chat', version: 4, flags: 0, events: [{ type: E.remove, key: 'msg' }] }],
  ['doc 4g status', false, `${chatHdr} 00 00 00 03  00 00 00 00  00 00 00 00
      07 00 00 00 23  00 1a 53 68 61 72 65 64 4f 62 6a 65 63 74 2e
      4e 6f 57 72 69 74 65 41 63 63 65 73 73  00 05 65 72 72 6f 72`,
  { name: 'chat', version: 3, flags: 0, events: [{ type: E.status, key: 'SharedObject.NoWriteAccess', level: 'error' }] }],
  ['doc 4h release', false, `${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  02 00 00 00 00`,
    { name: 'chat', version: 4, flags: 0, events: [{ type: E.release }] }],
  ['empty event list', false, `${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00`, { name: 'chat', version: 4, flags: 0, events: [] }],
  ['unknown type 13 kept raw', false, `${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  0d 00 00 00 02 ab cd`,
    { name: 'chat', version: 4, flags: 0, events: [{ type: 13, raw: new Uint8Array([0xab, 0xcd]) }] }],
  ['send no args', false, `${chatHdr} 00 00 00 01  00 00 00 00  00 00 00 00  06 00 00 00 04  02 00 01 66`,
    { name: 'chat', version: 1, flags: 0, events: [{ type: E.sendMessage, key: 'f', args: [] }] }],
];

for (const [name, amf3, h, msg] of vectors) {
  test(`shared-object ${name}`, () => {
    const want = hex(h);
    assert.deepEqual(parseSOMessage(want, amf3), msg);
    assert.equal(toHex(encodeSOMessage(msg, amf3)), toHex(want));
  });
}

test('bad shared-object bodies fail and every truncation fails', () => {
  for (const [h, code] of [
    ['00', 'truncated'],
    [`${chatHdr} 00 00 00 04 00 00`, 'truncated'],
    [`${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  03 00 00`, 'truncated'],
    [`${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  03 00 00 00 09  00 03 6d 73 67  02 00 02 68`, 'malformed'],
    [`${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  03 00 00 00 00`, 'malformed'],
    [`${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  06 00 00 00 01 05`, 'malformed'],
    [`${chatHdr} 00 00 00 04  00 00 00 00  00 00 00 00  07 00 00 00 06  00 01 61 00 00 ff`, 'malformed'],
  ]) {
    assert.throws(() => parseSOMessage(hex(h)), (err) => err instanceof SOError && err.code === code, h);
  }
  for (const [, amf3, h] of vectors) {
    const b = hex(h);
    for (let n = 0; n < b.length; n++) {
      try {
        parseSOMessage(b.subarray(0, n), amf3);
      } catch (err) {
        assert.ok(err instanceof SOError, `${h} cut at ${n}: ${err}`);
      }
    }
  }
});

// fakeConnection records what a SharedObject sends.
function fakeConnection() {
  const sent = [];
  return {
    connected: true, amf3: false, sharedObjects: new Set(), sent,
    socket: { send: (h, body) => sent.push(parseSOMessage(body)) },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

test('changeLists: clear, change, success, reject, delete', async () => {
  const nc = fakeConnection();
  const so = new SharedObject('chat', 'ws://x/chat', false);
  const syncs = [];
  so.addEventListener('sync', (e) => syncs.push(e.changeList));
  const ready = so.connect(nc);
  await tick();
  assert.deepEqual(nc.sent[0], { name: 'chat', version: 0, flags: 0, events: [{ type: E.use }] });
  so.apply(parseSOMessage(hex(vectors[2][2])));
  await ready;
  assert.deepEqual(syncs.shift(), [{ code: 'clear' }, { code: 'change', name: 'topic', oldValue: undefined }, { code: 'change', name: 'count', oldValue: undefined }]);
  assert.deepEqual(so.data, { topic: 'Go', count: 3 });

  so.setProperty('msg', 'hi');
  so.setProperty('count', null);
  await tick();
  assert.deepEqual(nc.sent[1], { name: 'chat', version: 2, flags: 0,
    events: [{ type: E.requestChange, key: 'msg', value: 'hi' }, { type: E.requestRemove, key: 'count' }] }, 'one message per task');
  assert.deepEqual(so.data, { topic: 'Go', msg: 'hi' }, 'the local copy changes at once');
  so.apply({ name: 'chat', version: 3, flags: 0, events: [{ type: E.success, key: 'msg' }, { type: E.remove, key: 'count' }] });
  assert.deepEqual(syncs.shift(), [{ code: 'success', name: 'msg', oldValue: 'hi' }, { code: 'delete', name: 'count', oldValue: undefined }]);

  so.setProperty('topic', 'JS');
  so.apply({ name: 'chat', version: 4, flags: 0, events: [{ type: E.change, key: 'topic', value: 'Go' }] });
  assert.deepEqual(syncs.shift(), [{ code: 'reject', name: 'topic', oldValue: 'JS' }]);
  so.apply({ name: 'chat', version: 5, flags: 0, events: [{ type: E.change, key: 'topic', value: 'Rust' }] });
  assert.deepEqual(syncs.shift(), [{ code: 'change', name: 'topic', oldValue: 'Go' }]);

  const lines = [];
  so.client = { newLine: (t) => lines.push(t) };
  so.apply(parseSOMessage(hex(vectors[7][2])));
  assert.deepEqual(lines, ['hello']);
  assert.equal(so.version, 3);
  assert.ok(syncs.length === 0 && SyncEvent);
});
