// The WebRTC play page: WHEP with a plain RTCPeerConnection, and the
// WebSocket path of openfcs.js when the server or the network says no.
import { params, logger } from './common.js';

const $ = (id) => document.getElementById(id);
const log = logger($('log'));
$('path').value = params.get('path') ?? 'live/stream';
$('token').value = params.get('token') ?? '';

// State for the console and the e2e tests.
const page = {
  mode: '', // 'webrtc' or 'websocket'
  reason: '', // why the WebSocket path was taken
  pc: null,
  ns: null,
  nc: null,
  presented: 0, // frames the <video> presented (requestVideoFrameCallback)
  resource: null, // the WHEP session's URL, for DELETE
  last: null, // the stats of the last overlay update
};
window.openfcsWebRTC = page;

// Statuses after which WebRTC cannot play this stream but the WebSocket
// path can: the stream's codecs (422), no media in common (406), or
// WebRTC off on the server (503).
const fallbackStatuses = new Set([406, 422, 503]);

async function stop() {
  if (page.resource) fetch(page.resource, { method: 'DELETE' }).catch(() => {});
  page.resource = null;
  page.pc?.close();
  page.ns?.close();
  page.nc?.close();
  page.pc = page.ns = page.nc = null;
  $('play').disabled = false;
  $('stop').disabled = true;
}

async function play() {
  await stop();
  $('play').disabled = true;
  $('stop').disabled = false;
  page.mode = page.reason = '';
  const path = $('path').value.replace(/^\/+|\/+$/g, '');
  try {
    await playWebRTC(path);
  } catch (err) {
    if (!err.fallback) {
      log(err.message, 'error');
      return;
    }
    log(`WebRTC: ${err.message}; playing over the WebSocket instead`, 'warning');
    page.reason = err.message;
    await playWebSocket(path);
  }
}

async function playWebRTC(path) {
  const pc = new RTCPeerConnection();
  page.pc = pc;
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    $('video').srcObject = stream;
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const headers = { 'Content-Type': 'application/sdp' };
  if ($('token').value) headers.Authorization = `Bearer ${$('token').value}`;
  const resp = await fetch(`/whep/${path}`, { method: 'POST', headers, body: pc.localDescription.sdp });
  const body = await resp.text();
  if (resp.status !== 201) {
    pc.close();
    page.pc = null;
    const err = new Error(`${resp.status} ${body.trim()}`);
    err.fallback = fallbackStatuses.has(resp.status);
    throw err;
  }
  page.resource = new URL(resp.headers.get('Location'), location.href).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
  await connected(pc);
  page.mode = 'webrtc';
  $('s-mode').textContent = 'WebRTC';
  $('video').hidden = false;
  $('view').hidden = true;
  log('playing over WebRTC');
  const count = (_, meta) => {
    page.presented = meta.presentedFrames;
    $('video').requestVideoFrameCallback(count);
  };
  $('video').requestVideoFrameCallback(count);
}

// gathered waits for ICE gathering (host candidates: at once) so that the
// offer carries them: the server does not need trickle.
function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

// connected resolves when ICE and DTLS are up and fails (for the fallback)
// when they cannot be.
function connected(pc) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => fail('no connection within 10 s'), 10000);
    function fail(why) {
      clearTimeout(t);
      pc.close();
      const err = new Error(why);
      err.fallback = true;
      reject(err);
    }
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(t);
        resolve();
      } else if (pc.connectionState === 'failed') {
        fail('ICE or DTLS failed');
      }
    });
  });
}

async function playWebSocket(path) {
  const { NetConnection, NetStream } = await import('/openfcs.js');
  const parts = path.split('/');
  const stream = parts.pop();
  const nc = new NetConnection();
  page.nc = nc;
  await nc.connect(`rtmp://${location.host}/${parts.join('/')}`);
  const ns = new NetStream(nc);
  page.ns = ns;
  ns.bufferTime = 0.1;
  ns.attachView($('view'));
  ns.play(stream);
  page.mode = 'websocket';
  $('s-mode').textContent = 'WebSocket';
  $('video').hidden = true;
  $('view').hidden = false;
}

/** stats reads what the tests and the overlay show: for WebRTC, getStats. */
page.stats = async () => {
  const out = { mode: page.mode, presented: page.presented };
  if (page.pc) {
    for (const r of (await page.pc.getStats()).values()) {
      if (r.type === 'transport') out.dtlsState = r.dtlsState;
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') out.pair = true;
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        Object.assign(out, { framesReceived: r.framesReceived, framesDecoded: r.framesDecoded, framesDropped: r.framesDropped,
          width: r.frameWidth, height: r.frameHeight, videoCodecId: r.codecId });
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        Object.assign(out, { audioEnergy: r.totalAudioEnergy, audioLevel: r.audioLevel, audioSamples: r.totalSamplesReceived,
          audioCodecId: r.codecId });
      }
    }
    const all = await page.pc.getStats();
    out.videoCodec = all.get(out.videoCodecId)?.mimeType;
    out.audioCodec = all.get(out.audioCodecId)?.mimeType;
  }
  if (page.ns) out.framesDecoded = page.ns.decodedFrames;
  return out;
};

/** luma is the mean brightness (0-255) of what is shown now. */
page.luma = () => {
  const src = page.mode === 'webrtc' ? $('video') : $('view');
  const w = 64;
  const h = 36;
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d');
  g.drawImage(src, 0, 0, w, h);
  const px = g.getImageData(0, 0, w, h).data;
  let sum = 0;
  for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
  return sum / (w * h);
};

setInterval(async () => {
  if (!page.mode) return;
  const s = await page.stats();
  page.last = s;
  if (page.mode === 'webrtc') {
    $('s-video').textContent = `${s.videoCodec ?? '–'} ${s.framesDecoded ?? 0} decoded`;
    $('s-audio').textContent = s.audioCodec ? `${s.audioCodec} level ${(s.audioLevel ?? 0).toFixed(2)}` : '–';
    $('s-size').textContent = s.width ? `${s.width}×${s.height}` : '–';
  } else {
    $('s-video').textContent = `${s.framesDecoded ?? 0} decoded`;
  }
  $('s-fps').textContent = page.ns ? String(page.ns.currentFPS) : '–';
}, 500);

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  play();
});
$('stop').addEventListener('click', stop);
if (params.get('autoplay') === '1') play();
