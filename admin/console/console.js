// The openfcs console: a view over the admin API (docs/operations.md#console).
// It only uses the documented REST routes (docs/admin-api.yaml) with the
// token as a bearer token; the token lives in this tab's sessionStorage.

const api = '/admin/api/v1';
const $ = (sel) => document.querySelector(sel);
let token = sessionStorage.getItem('openfcs-admin-token') || '';
let timers = [];
let traceAbort = null;

async function call(method, path, body) {
  const resp = await fetch(api + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}
const get = (path) => call('GET', path);

function status(text, error = false) {
  const el = $('#status');
  el.textContent = text;
  el.className = error ? 'error' : '';
}

// ---- login

async function login(t) {
  token = t;
  const resp = await fetch(api + '/server', { headers: { Authorization: 'Bearer ' + t } });
  if (!resp.ok) return false;
  sessionStorage.setItem('openfcs-admin-token', t);
  return true;
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  if (await login($('#token').value)) {
    start();
  } else {
    $('#login-error').textContent = 'The server refused this token.';
  }
});

$('#logout').addEventListener('click', () => {
  sessionStorage.removeItem('openfcs-admin-token');
  location.reload();
});

// ---- formatting

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
function bytes(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function bits(n) {
  const u = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function duration(s) {
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : m ? `${m}m${s % 60}s` : `${s}s`;
}
const seg = (s) => encodeURIComponent(s);
function instPath(name) {
  const i = name.indexOf('/');
  return `/instances/${seg(name.slice(0, i))}/${seg(name.slice(i + 1))}`;
}

// ---- tabs and filters

document.querySelectorAll('nav button').forEach((b) => b.addEventListener('click', () => {
  document.querySelectorAll('nav button').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
  document.querySelectorAll('.tab').forEach((t) => { t.hidden = t.id !== b.dataset.tab; });
}));

function applyFilter(input) {
  const q = input.value.toLowerCase();
  document.querySelectorAll(`#${input.dataset.table} tbody tr`).forEach((tr) => {
    tr.hidden = q !== '' && !tr.textContent.toLowerCase().includes(q);
  });
}
document.querySelectorAll('input.filter').forEach((i) => i.addEventListener('input', () => applyFilter(i)));

function fillTable(id, rows) {
  const body = $(`#${id} tbody`);
  body.innerHTML = rows.join('');
  const f = document.querySelector(`input.filter[data-table="${id}"]`);
  if (f) applyFilter(f);
}

// ---- charts: a few series of the last points, drawn on a canvas

const palette = ['#1a5fb4', '#c64600', '#26a269', '#9141ac', '#a51d2d', '#865e3c', '#0b7a75'];
const history = { conns: {}, bw: { in: [], out: [] }, cpu: { cpu: [] }, mem: { heap: [], sys: [] } };
const keep = 120;

function push(series, key, v) {
  const a = (series[key] ||= []);
  a.push(v);
  if (a.length > keep) a.shift();
}

function draw(canvasId, series, legendId, fmt = (v) => v.toFixed(0)) {
  const c = $(canvasId);
  const ctx = c.getContext('2d');
  const w = c.width, h = c.height;
  ctx.clearRect(0, 0, w, h);
  const keys = Object.keys(series);
  let top = 1;
  keys.forEach((k) => series[k].forEach((v) => { top = Math.max(top, v); }));
  ctx.strokeStyle = '#d9d9de';
  ctx.fillStyle = '#6a6a70';
  ctx.font = '11px system-ui';
  ctx.beginPath(); ctx.moveTo(0, h - 1); ctx.lineTo(w, h - 1); ctx.stroke();
  ctx.fillText(fmt(top), 4, 12);
  keys.forEach((k, i) => {
    const pts = series[k];
    ctx.strokeStyle = palette[i % palette.length];
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    pts.forEach((v, j) => {
      const x = w - (pts.length - 1 - j) * (w / (keep - 1));
      const y = h - 2 - (v / top) * (h - 16);
      if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
  if (legendId) {
    $(legendId).innerHTML = keys.map((k, i) => `<span><i class="c${i % palette.length}"></i>${esc(k)} ${fmt(series[k].at(-1) ?? 0)}</span>`).join('');
  }
}

// ---- refreshers

async function refreshServer() {
  const s = await get('/server');
  $('#version').textContent = `openfcs ${s.version}, up ${duration(s.uptime)}`;
  const cards = [
    ['Connections', s.connected], ['Clients', s.clients], ['Instances', s.instances], ['Streams', s.streams],
    ['In', bits(8 * s.bw_in)], ['Out', bits(8 * s.bw_out)], ['CPU', `${s.cpu_usage.toFixed(1)} %`],
    ['Memory', bytes(s.memory_usage)], ['Goroutines', s.goroutines], ['Dropped frames', s.dropped_frames],
    ['Slow consumers', s.slow_consumers], ['Script errors', s.scripts.errors],
  ];
  $('#cards').innerHTML = cards.map(([k, v]) => `<div class="card"><b>${esc(v)}</b><span>${esc(k)}</span></div>`).join('');
  for (const k of Object.keys(history.conns)) if (!(k in s.protocols)) push(history.conns, k, 0);
  for (const [proto, p] of Object.entries(s.protocols)) push(history.conns, proto, p.connected);
  push(history.bw, 'in', 8 * s.bw_in);
  push(history.bw, 'out', 8 * s.bw_out);
  push(history.cpu, 'cpu', s.cpu_usage);
  push(history.mem, 'heap', s.heap_bytes / 1048576);
  push(history.mem, 'sys', s.memory_usage / 1048576);
  draw('#chart-conns', history.conns, '#legend-conns');
  draw('#chart-bw', history.bw, '#legend-bw', bits);
  draw('#chart-cpu', history.cpu, null, (v) => v.toFixed(1));
  draw('#chart-mem', history.mem, '#legend-mem', (v) => v.toFixed(1));
}

async function refreshApps() {
  const [apps, instances] = await Promise.all([get('/apps'), get('/instances')]);
  fillTable('apps-table', apps.map((a) => `<tr><td>${esc(a.name)}</td><td>${a.instances.length}</td><td>${a.connected}</td>
    <td>${a.total_connects}</td><td>${a.rejected}</td>
    <td><button data-reload="${esc(a.name)}">Reload</button> <button class="danger" data-unload="${esc(a.name)}">Unload</button></td></tr>`));
  fillTable('instances-table', instances.map((i) => `<tr><td>${esc(i.name)}</td><td>${i.connected}</td><td>${i.live_streams}</td>
    <td>${i.shared_objects}</td><td>${i.script ? 'yes' : 'no'}</td><td>${duration(i.uptime)}</td>
    <td><button data-inspect="${esc(i.name)}">Inspect</button></td></tr>`));
  // The inspector follows an instance only once one is chosen.
  const sel = $('#inspect-instance');
  const names = ['', ...instances.map((i) => i.name)];
  const current = sel.value;
  if (names.join('\n') !== [...sel.options].map((o) => o.value).join('\n')) {
    sel.innerHTML = names.map((n) => `<option value="${esc(n)}">${n ? esc(n) : 'choose an instance'}</option>`).join('');
    if (names.includes(current)) sel.value = current;
    if (sel.value !== current) inspect(sel.value);
  }
}

async function refreshClients() {
  const cs = await get('/clients');
  fillTable('clients-table', cs.map((c) => `<tr data-client="${c.id}"><td>${c.id}</td><td>${esc(c.app + '/' + c.instance)}</td>
    <td>${esc(c.protocol)}</td><td>${esc(c.ip)}</td><td>${esc(c.agent)}</td><td>${bytes(c.bytes_in)}</td>
    <td>${bytes(c.bytes_out)}</td><td>${c.ping_rtt.toFixed(0)} ms</td><td>${esc(c.publishing.join(', '))}</td>
    <td>${esc(c.playing.join(', '))}</td>
    <td><button class="danger" data-kick="${c.id}" data-instance="${esc(c.app + '/' + c.instance)}">Kick</button></td></tr>`));
}

function streamRow(s) {
  return `<td>${esc(s.name)}</td><td>${esc(s.video_codec || '')}</td><td>${esc(s.audio_codec || '')}</td>
    <td>${s.width ? `${s.width}×${s.height}` : ''}</td><td>${bits(s.bitrate_in)}</td><td>${bits(s.bitrate_out)}</td>
    <td>${s.subscribers.length}</td>`;
}

async function refreshStreams() {
  const ss = await get('/streams');
  fillTable('streams-table', ss.map((s) => `<tr><td>${esc(s.instance)}</td>${streamRow(s)}<td>${s.dropped_frames}</td></tr>`));
}

// ---- inspector: live trace() over an event stream, shared objects and streams

async function inspect(name) {
  if (traceAbort) traceAbort.abort();
  $('#trace').innerHTML = '';
  if (!name) return;
  traceAbort = new AbortController();
  const signal = traceAbort.signal;
  try {
    // fetch, not EventSource: an EventSource cannot send the token.
    const resp = await fetch(api + instPath(name) + '/trace', { headers: { Authorization: 'Bearer ' + token }, signal });
    if (!resp.ok) { status(`trace: ${resp.status}`, true); return; }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        traceEvent(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') status(`trace: ${e.message}`, true);
  }
}

function traceEvent(block) {
  let event = 'message', data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (event !== 'trace' && event !== 'dropped') return;
  const d = JSON.parse(data);
  const el = document.createElement('div');
  el.className = 'line';
  el.dataset.received = String(Date.now());
  const at = d.at ? new Date(d.at).toISOString().slice(11, 23) : '';
  el.innerHTML = event === 'trace' ? `<time>${at}</time>${esc(d.text)}` : `<em>${d.lines} lines dropped</em>`;
  const box = $('#trace');
  box.append(el);
  while (box.childElementCount > 1000) box.firstElementChild.remove();
  box.scrollTop = box.scrollHeight;
}

async function refreshInspector() {
  const name = $('#inspect-instance').value;
  if (!name || $('#inspector').hidden) return;
  const base = instPath(name);
  const [sos, streams, script] = await Promise.all([get(base + '/sharedobjects'), get(base + '/streams'), get(base + '/script')]);
  const full = await Promise.all(sos.map((so) => get(`${base}/sharedobjects/${seg(so.name)}?persistent=${so.persistent}`)));
  $('#sos').innerHTML = full.map((so) => `<div class="so"><b>${esc(so.name)}</b> ${so.persistent ? '(persistent)' : ''}
    version ${so.version}, ${so.num_properties} slots, ${so.connected} subscribers
    <button data-clear="${esc(so.name)}" data-persistent="${so.persistent}">Clear</button>
    <pre>${esc(JSON.stringify(so.data, null, 1))}</pre></div>`).join('') || '<p>none loaded</p>';
  fillTable('inspect-streams', streams.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc([s.video_codec, s.audio_codec].filter(Boolean).join(' + '))}</td>
    <td>${s.width ? `${s.width}×${s.height}` : ''}</td><td>${bits(s.bitrate_in)}</td><td>${bits(s.bitrate_out)}</td><td>${s.subscribers.length}</td></tr>`));
  $('#script-stats').textContent = script.script
    ? `${script.entries} entries, ${script.errors} errors, ${script.interrupts} interrupts, ${script.time_ms.toFixed(1)} ms${script.last_error ? '; last error: ' + script.last_error : ''}`
    : 'no script';
}

// ---- actions

document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button');
  if (!b) return;
  try {
    if (b.dataset.kick) {
      await call('DELETE', `${instPath(b.dataset.instance)}/clients/${b.dataset.kick}`);
      status(`client ${b.dataset.kick} disconnected`);
      b.closest('tr').remove();
    } else if (b.dataset.reload) {
      const r = await call('POST', `/apps/${seg(b.dataset.reload)}/reload`);
      status(`reloaded ${b.dataset.reload}: ${r.unloaded.length} instances unloaded`);
    } else if (b.dataset.unload) {
      const r = await call('POST', `/apps/${seg(b.dataset.unload)}/unload`);
      status(`unloaded ${r.unloaded.join(', ')}`);
    } else if (b.dataset.inspect) {
      if ($('#inspect-instance').value === b.dataset.inspect && traceAbort) {
        document.querySelector('nav button[data-tab="inspector"]').click();
        return;
      }
      $('#inspect-instance').value = b.dataset.inspect;
      document.querySelector('nav button[data-tab="inspector"]').click();
      inspect(b.dataset.inspect);
      refreshInspector();
    } else if (b.dataset.clear) {
      const name = $('#inspect-instance').value;
      await call('DELETE', `${instPath(name)}/sharedobjects/${seg(b.dataset.clear)}/data?persistent=${b.dataset.persistent}`);
      refreshInspector();
    }
  } catch (e) {
    status(e.message, true);
  }
});

$('#inspect-instance').addEventListener('change', (ev) => { inspect(ev.target.value); refreshInspector(); });

function every(ms, fn) {
  const run = () => fn().catch((e) => status(e.message, true));
  run();
  timers.push(setInterval(run, ms));
}

function start() {
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  every(1000, refreshServer);
  every(2000, refreshApps);
  every(2000, refreshClients);
  every(2000, refreshStreams);
  every(1000, refreshInspector);
}

if (token) {
  login(token).then((ok) => { if (ok) start(); else sessionStorage.removeItem('openfcs-admin-token'); });
}
