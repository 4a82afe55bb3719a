// The player's worker: FLV messages in, VideoFrames and AudioData out
// (transferred, not copied), so demuxing and decoding stay off the page's
// thread. The page side is WorkerDecoders in player/player.js.

import { Decoders } from './decoders.js';

function post(msg, transfer) {
  try {
    self.postMessage(msg, transfer);
  } catch {
    // Not transferable in this browser: send a copy and close ours.
    self.postMessage(msg);
    for (const t of transfer) t.close?.();
  }
}

const dec = new Decoders({
  frame: (frame) => post({ op: 'frame', frame }, [frame]),
  audio: (data) => post({ op: 'audio', data }, [data]),
  failed: (message) => post({ op: 'failed', message }, []),
  dropped: () => post({ op: 'dropped' }, []),
});

self.onmessage = (e) => {
  const m = e.data;
  switch (m.op) {
    case 'video': dec.video(m.ts, m.payload); break;
    case 'audio': dec.audio(m.ts, m.payload); break;
    case 'drain': dec.drain(); break;
    case 'flush': dec.flush(); break;
    case 'close': dec.close(); self.close(); break;
    default:
  }
};

self.postMessage({ op: 'ready' });
