// The WebRTC publish page: WHIP with a plain RTCPeerConnection.
import { params, logger } from './common.js';

const $ = (id) => document.getElementById(id);
const log = logger($('log'));
$('path').value = params.get('path') ?? 'live/stream';
$('token').value = params.get('token') ?? '';

// State for the console and the e2e tests.
const page = { state: 'idle', pc: null, media: null, resource: null, error: '' };
window.openfcsWHIP = page;

async function stop() {
  if (page.resource) fetch(page.resource, { method: 'DELETE' }).catch(() => {});
  page.resource = null;
  page.pc?.close();
  page.media?.getTracks().forEach((t) => t.stop());
  page.pc = page.media = null;
  page.state = 'idle';
  $('start').disabled = false;
  $('stop').disabled = true;
}

async function start() {
  await stop();
  $('start').disabled = true;
  $('stop').disabled = false;
  try {
    page.media = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
    $('preview').srcObject = page.media;
    const pc = new RTCPeerConnection();
    page.pc = pc;
    for (const track of page.media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const t = setTimeout(resolve, 2000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const path = $('path').value.replace(/^\/+|\/+$/g, '');
    const resp = await fetch(`/whip/${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${$('token').value}` },
      body: pc.localDescription.sdp,
    });
    const body = await resp.text();
    if (resp.status !== 201) throw new Error(`${resp.status} ${body.trim()}`);
    page.resource = new URL(resp.headers.get('Location'), location.href).href;
    await pc.setRemoteDescription({ type: 'answer', sdp: body });
    pc.addEventListener('connectionstatechange', () => {
      page.state = pc.connectionState;
      log(`connection ${pc.connectionState}`);
    });
    page.state = 'answered';
    log('publishing over WebRTC');
  } catch (err) {
    page.error = err.message;
    log(err.message, 'error');
    $('start').disabled = false;
  }
}

/** stats: what the sender says it sent, by kind. */
page.stats = async () => {
  const out = {};
  if (!page.pc) return out;
  const all = await page.pc.getStats();
  for (const r of all.values()) {
    if (r.type === 'outbound-rtp') {
      out[r.kind] = { codec: all.get(r.codecId)?.mimeType, packets: r.packetsSent, frames: r.framesEncoded };
    }
  }
  return out;
};

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  start();
});
$('stop').addEventListener('click', stop);
if (params.get('autostart') === '1') start();
