// The play page: any stream of any application, with a stats overlay.
import { NetConnection, NetStream } from '/openfcs.js';
import { defaultURI, params, logger, describe } from './common.js';

const $ = (id) => document.getElementById(id);
const log = logger($('log'));
const form = $('form');
$('uri').value = params.get('uri') ?? defaultURI('live');
$('stream').value = params.get('stream') ?? 'stream';
$('buffer').value = params.get('buffer') ?? '0.1';

let nc = null;
let ns = null;
let analyser = null;
let latency = null; // ms, from the publisher's onPublishTime messages
const page = { nc: null, ns: null, analyser: null, latencies: [] };
window.openfcsPage = page; // for the console and the e2e tests

function stop() {
  ns?.close();
  nc?.close();
  ns = null;
  nc = null;
  analyser = null;
  page.analyser = null;
  $('play').disabled = false;
  $('stop').disabled = true;
}

async function play() {
  stop();
  latency = null;
  page.latencies = [];
  $('play').disabled = true;
  $('stop').disabled = false;
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
  ns.bufferTime = Number($('buffer').value) || 0;
  ns.volume = Number($('volume').value);
  ns.addEventListener('netStatus', (e) => log(describe(e.info), e.info.level));
  ns.addEventListener('asyncError', (e) => log(`asyncError: ${e.error.message}`, 'warning'));
  ns.client = {
    onMetaData(md) {
      log(`metadata: ${Object.entries(md).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    },
    // The publish page sends its clock twice a second; the difference to
    // ours, when the message is presented with the media, is the latency.
    onPublishTime(sent) {
      latency = Date.now() - sent;
      page.latencies.push(latency);
    },
  };
  ns.attachView($('view'));
  // A play that falls back from WebRTC gets its AudioContext only then.
  ns.addEventListener('netStatus', (e) => { if (e.info.code === 'NetStream.Transport') listen(); });
  ns.play($('stream').value);
  listen();
}

// listen puts the level meter on the NetStream's sound, once it has an
// AudioContext (the WebSocket path; WebRTC plays through a media element).
function listen() {
  const ctx = ns?.audioContext;
  if (!ctx || analyser) return;
  analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ns.audioNode.connect(analyser);
  page.analyser = analyser;
  if (ctx.state !== 'running') log('Sound is paused by the browser until you click the page.', 'warning');
}

document.addEventListener('click', () => ns?.audioContext?.resume());

form.addEventListener('submit', (e) => {
  e.preventDefault();
  play();
});
$('stop').addEventListener('click', stop);
$('volume').addEventListener('input', () => { if (ns) ns.volume = Number($('volume').value); });

const samples = new Float32Array(1024);
setInterval(() => {
  if (!ns) return;
  const info = ns.info;
  $('s-fps').textContent = String(ns.currentFPS);
  $('s-decoded').textContent = String(ns.decodedFrames);
  $('s-bitrate').textContent = `${Math.round((info.currentBytesPerSecond * 8) / 1000)} kbit/s`;
  $('s-latency').textContent = latency === null ? '–' : `${latency} ms`;
  $('s-buffer').textContent = `${Math.round(ns.bufferLength * 1000)} ms`;
  $('s-size').textContent = info.videoWidth ? `${info.videoWidth}×${info.videoHeight}` : '–';
  if (analyser) {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    $('s-level').value = peak;
  }
}, 250);

if (params.get('autoplay') === '1') play();
