// The publish page: camera and microphone to a live stream.
import { NetConnection, NetStream } from '/openfcs.js';
import { defaultURI, params, logger, describe } from './common.js';

const $ = (id) => document.getElementById(id);
const log = logger($('log'));
$('uri').value = params.get('uri') ?? defaultURI('live');
$('stream').value = params.get('stream') ?? 'stream';
$('codec').value = params.get('codec') ?? 'auto';
if (params.get('bitrate')) $('bitrate').value = params.get('bitrate');

let nc = null;
let ns = null;
let media = null;
let clockTimer = 0;
const page = { nc: null, ns: null, started: false };
window.openfcsPage = page; // for the console and the e2e tests

function stop() {
  clearInterval(clockTimer);
  ns?.close();
  nc?.close();
  ns = null;
  nc = null;
  page.started = false;
  $('publish').disabled = false;
  $('stop').disabled = true;
  $('p-state').textContent = 'stopped';
}

async function publish() {
  stop();
  $('publish').disabled = true;
  $('stop').disabled = false;
  const codec = $('codec').value;
  try {
    media ??= await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
  } catch (err) {
    log(`camera or microphone refused: ${err.message}`, 'error');
    stop();
    return;
  }
  $('preview').srcObject = media;
  $('preview').play().catch(() => {});
  nc = new NetConnection();
  page.nc = nc;
  nc.addEventListener('netStatus', (e) => log(describe(e.info), e.info.level));
  try {
    await nc.connect($('uri').value);
  } catch (info) {
    log(`connect failed: ${describe(info)}`, 'error');
    stop();
    return;
  }
  ns = new NetStream(nc);
  page.ns = ns;
  if (params.get('transport')) ns.transport = params.get('transport'); // docs/browser.md#webrtc
  ns.addEventListener('netStatus', (e) => {
    log(describe(e.info), e.info.level);
    if (e.info.code === 'NetStream.Publish.Start') {
      page.started = true;
      $('p-state').textContent = 'publishing';
      // Our clock, for the play page's latency figure (presented with the media).
      clockTimer = setInterval(() => ns?.send('onPublishTime', Date.now()), 500);
    }
  });
  ns.attachCamera(media.getVideoTracks()[0], { bitrate: Number($('bitrate').value) * 1000 });
  if (codec !== 'none') ns.attachAudio(media.getAudioTracks()[0], { codec });
  const name = $('stream').value;
  ns.publish(name);
  const u = new URL($('uri').value.replace(/^rtmp:/, 'http:'));
  // openfcs serves RTMP on its HTTP ports too (the first byte tells them apart).
  $('p-play').textContent = `ffplay rtmp://${location.host}${u.pathname}/${name}`;
  $('p-state').textContent = 'starting';
}

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  publish();
});
$('stop').addEventListener('click', stop);

setInterval(() => {
  if (!ns) return;
  const s = ns.info.publish;
  if (!s) return;
  $('p-time').textContent = `${ns.time.toFixed(1)} s`;
  $('p-video').textContent = `${s.videoCodec ?? '–'}: ${s.videoFrames} frames, ${s.keyFrames} keyframes, ${s.droppedFrames} dropped`;
  $('p-audio').textContent = `${s.audioCodec ?? '–'}: ${s.audioFrames} packets`;
  $('p-bytes').textContent = `${Math.round((s.videoBytes + s.audioBytes) / 1024)} KiB`;
}, 500);

if (params.get('autostart') === '1') publish();
