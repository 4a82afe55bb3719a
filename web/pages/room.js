// The room page, served at /room/<name>: the communication components
// wired to the room application's instance <name>
// (docs/components.md#the-room-page). ?user=<who> joins at once;
// &camera=1 also starts the camera, &resolution=320x240 asks for that
// size, &fps=15 for that frame rate.
import { params } from './common.js';

const $ = (id) => document.getElementById(id);
const room = decodeURIComponent(location.pathname.split('/')[2] ?? '') || 'lobby';
document.title = `${room} · openfcs room`;
$('room-name').textContent = room;
const link = `${location.origin}/room/${encodeURIComponent(room)}`;
$('invite').textContent = link;
$('copy').addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(link);
    $('copy').textContent = 'Copied';
  } catch {
    $('copy').textContent = 'Select the link to copy it';
  }
});

const connect = $('connect');
connect.setAttribute('uri', `rtmp://${location.host}/room/${room}`);
if (params.get('user')) connect.setAttribute('user', params.get('user'));
const video = document.querySelector('fcs-video-conference');
if (params.get('camera') === '1') video.setAttribute('autostart', '');
if (/^\d{2,4}x\d{2,4}$/.test(params.get('resolution') ?? '')) video.setAttribute('resolution', params.get('resolution'));
if (/^\d{1,2}$/.test(params.get('fps') ?? '')) video.setAttribute('framerate', params.get('fps'));

// The elements are defined after the attributes are set, so they start
// with them.
await import('/components/index.js');

window.openfcsRoom = {
  room,
  connect,
  light: document.querySelector('fcs-connection-light'),
  people: document.querySelector('fcs-people-list'),
  chat: document.querySelector('fcs-chat'),
  board: document.querySelector('fcs-whiteboard'),
  video: document.querySelector('fcs-video-conference'),
};
