// The chat page: people and lines on the shared object "chat", a
// whiteboard on "board" (a slot per stroke), calls to the application's
// say() and clearBoard().
import { NetConnection, SharedObject } from '/openfcs.js';
import { defaultURI, params, logger, describe } from './common.js';

const $ = (id) => document.getElementById(id);
const log = logger($('log'));
$('uri').value = params.get('uri') ?? defaultURI('chat');
$('name').value = params.get('name') ?? '';

/** Stroke coordinates are integers in 0..SCALE, so boards of any size agree. */
const SCALE = 10000;
const page = { nc: null, chat: null, board: null, lines: [], people: [], strokes: 0 };
window.openfcsPage = page; // for the console and the e2e tests

let nc = null;
let chat = null;
let board = null;
let color = '#1d1d1f';
let strokeCount = 0;

function setConnected(on) {
  $('join-btn').disabled = on;
  $('leave').disabled = !on;
  $('text').disabled = !on;
  $('send').disabled = !on;
  $('clear').disabled = !on;
}

function renderPeople() {
  const names = Object.entries(chat?.data ?? {})
    .filter(([k]) => k.startsWith('user'))
    .map(([, v]) => String(v))
    .sort((a, b) => a.localeCompare(b));
  page.people = names;
  $('people').replaceChildren(...names.map((n) => {
    const li = document.createElement('li');
    li.textContent = n;
    return li;
  }));
}

function addLine(text) {
  page.lines.push(text);
  const li = document.createElement('li');
  li.textContent = text;
  const list = $('lines');
  list.append(li);
  while (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

const canvas = $('board');
const g = canvas.getContext('2d');

function drawStroke(s) {
  const p = s?.p;
  if (!Array.isArray(p) || p.length < 2) return;
  g.strokeStyle = typeof s.c === 'string' ? s.c : '#000';
  g.lineWidth = Number(s.w) || 3;
  g.lineCap = 'round';
  g.lineJoin = 'round';
  g.beginPath();
  g.moveTo((p[0] / SCALE) * canvas.width, (p[1] / SCALE) * canvas.height);
  for (let i = 2; i + 1 < p.length; i += 2) g.lineTo((p[i] / SCALE) * canvas.width, (p[i + 1] / SCALE) * canvas.height);
  if (p.length === 2) g.lineTo((p[0] / SCALE) * canvas.width + 0.1, (p[1] / SCALE) * canvas.height);
  g.stroke();
}

function renderBoard() {
  g.clearRect(0, 0, canvas.width, canvas.height);
  const strokes = Object.entries(board?.data ?? {}).sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  page.strokes = strokes.length;
  for (const [, s] of strokes) drawStroke(s);
  if (current) drawStroke(current);
}

let current = null;

function point(e) {
  const r = canvas.getBoundingClientRect();
  return [Math.round(((e.clientX - r.left) / r.width) * SCALE), Math.round(((e.clientY - r.top) / r.height) * SCALE)];
}

canvas.addEventListener('pointerdown', (e) => {
  if (!board) return;
  canvas.setPointerCapture(e.pointerId);
  current = { c: color, w: 3, p: point(e) };
  renderBoard();
});
canvas.addEventListener('pointermove', (e) => {
  if (!current) return;
  current.p.push(...point(e));
  renderBoard();
});
function endStroke() {
  if (!current || !board) return;
  const s = current;
  current = null;
  strokeCount++;
  // One slot per stroke, named by the connection and a counter, so two
  // people never write the same slot.
  board.setProperty(`s${nc.farID ?? 'x'}_${Date.now().toString(36)}_${strokeCount}`, s);
  renderBoard();
}
canvas.addEventListener('pointerup', endStroke);
canvas.addEventListener('pointercancel', endStroke);

for (const b of document.querySelectorAll('.swatches button[data-color]')) {
  b.addEventListener('click', () => {
    color = b.dataset.color;
    for (const o of document.querySelectorAll('.swatches button[data-color]')) o.setAttribute('aria-pressed', String(o === b));
  });
}

async function join() {
  leave();
  const name = $('name').value.trim();
  if (!name) return;
  nc = new NetConnection();
  page.nc = nc;
  nc.addEventListener('netStatus', (e) => {
    log(describe(e.info), e.info.level);
    if (e.info.code === 'NetConnection.Connect.Closed') {
      $('state').textContent = 'Disconnected.';
      setConnected(false);
    }
  });
  $('state').textContent = 'Connecting…';
  try {
    await nc.connect($('uri').value, name);
  } catch (info) {
    const why = info.application?.message ?? info.description ?? info.code;
    $('state').textContent = `Refused: ${why}`;
    log(`connect failed: ${describe(info)}`, 'error');
    nc = null;
    return;
  }
  chat = SharedObject.getRemote('chat', nc.uri, false);
  board = SharedObject.getRemote('board', nc.uri, false);
  page.chat = chat;
  page.board = board;
  chat.client = { newLine: addLine };
  chat.addEventListener('sync', renderPeople);
  board.addEventListener('sync', renderBoard);
  for (const so of [chat, board]) {
    so.addEventListener('netStatus', (e) => log(`${so.name}: ${describe(e.info)}`, e.info.level));
  }
  await Promise.all([chat.connect(nc), board.connect(nc)]);
  $('state').textContent = `Connected as ${name}.`;
  setConnected(true);
}

function leave() {
  chat?.close();
  board?.close();
  nc?.close();
  chat = board = nc = null;
  page.chat = page.board = page.nc = null;
  setConnected(false);
}

$('join').addEventListener('submit', (e) => {
  e.preventDefault();
  join();
});
$('leave').addEventListener('click', () => {
  leave();
  $('state').textContent = 'Not connected.';
});
$('say').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('text').value.trim();
  if (!text || !nc) return;
  $('text').value = '';
  try {
    await nc.call('say', text);
  } catch (info) {
    log(`say failed: ${describe(info)}`, 'error');
  }
});
$('clear').addEventListener('click', async () => {
  try {
    await nc?.call('clearBoard');
  } catch (info) {
    log(`clearBoard failed: ${describe(info)}`, 'error');
  }
});

if (params.get('autojoin') === '1' && $('name').value) join();
