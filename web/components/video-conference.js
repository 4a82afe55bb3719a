// <fcs-video-conference>: camera and microphone for everyone in the room
// (FCS's AVPresence and VideoConference), on the server-side
// FCVideoConference: each publisher is a slot of its streams shared
// object, each slot a tile here (docs/components.md#fcs-video-conference).
//
//   <fcs-video-conference instance="main"></fcs-video-conference>
//
// Attributes: autostart (start the camera on joining), resolution (the
// camera size asked for, default "640x480"), framerate (frames per
// second asked for, default 25), bitrate (video, bits per
// second, default 600000), audio-codec (openfcs.js's codec option,
// default "auto"). Methods: start(), stop(), setMicrophone(on),
// setCamera(on). Property tiles: one entry per tile, {user, stream, self,
// external, audio, video, decodedFrames, fps, level, speaking, muted}.

import { NetStream } from '../openfcs.js';
import { baseCSS, ComponentElement, callComponent, colorFor, el, initials, joinComponent } from './base.js';

/** Level (RMS, 0..1) above which a tile shows its speaker as speaking. */
const SPEAKING = 0.02;
/** How long a speaking indicator stays after the level fell, ms. */
const HOLD = 400;

const css = `
.top { display: flex; justify-content: space-between; align-items: center; gap: .5rem; flex-wrap: wrap; }
.controls { display: flex; gap: .4rem; flex-wrap: wrap; }
.tiles {
  list-style: none; margin: 0; padding: 0;
  display: grid; gap: var(--_gap);
  grid-template-columns: repeat(auto-fill, minmax(var(--fcs-tile-min, 11rem), 1fr));
}
.tile {
  position: relative; aspect-ratio: 4 / 3; overflow: hidden;
  background: var(--_tile-bg); border-radius: var(--_radius);
  outline: 3px solid transparent; outline-offset: -3px;
  transition: outline-color .15s;
}
.tile.speaking { outline-color: var(--_speaking); }
.tile canvas, .tile video { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; display: block; }
.tile.self video { transform: scaleX(-1); }
.tile .placeholder {
  position: absolute; inset: 0; display: grid; place-items: center;
}
.tile .placeholder span {
  width: 4.5rem; height: 4.5rem; border-radius: 50%; display: grid; place-items: center;
  color: #fff; font-weight: 700; font-size: 1.4rem;
}
.tile.has-video .placeholder { display: none; }
.label {
  position: absolute; left: .5rem; bottom: .5rem; right: .5rem;
  display: flex; align-items: center; gap: .35rem; pointer-events: none;
}
.name {
  color: #fff; background: rgb(0 0 0 / 55%); border-radius: 6px; padding: .1rem .45rem;
  font-size: .85rem; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
}
.badge { color: #fff; background: rgb(0 0 0 / 55%); border-radius: 6px; padding: .1rem .4rem; font-size: .75rem; }
.badge.off { background: color-mix(in srgb, var(--_danger) 85%, black); }
.meter { position: absolute; top: .5rem; left: .5rem; display: flex; gap: 2px; align-items: flex-end; height: 14px; }
.meter i { display: block; width: 3px; background: var(--_speaking); border-radius: 2px; height: 3px; transition: height .1s; }
.tile .mute {
  position: absolute; top: .4rem; right: .4rem; font-size: .75rem; padding: .15em .5em;
  background: rgb(0 0 0 / 55%); color: #fff; border-color: transparent;
}
/* The toggles say what they will do next (their labels change), so they
   carry no aria-pressed as well: a changing label and a pressed state
   together read as a contradiction. The color shows what is off. */
.tile .mute.off { background: var(--_danger); }
.controls button.off { background: var(--_danger); border-color: var(--_danger); color: #fff; }
.empty { color: var(--_muted); margin: 0; }
`;

class FCSVideoConference extends ComponentElement {
  static type = 'FCVideoConference';

  constructor() {
    super();
    this.so = null;
    this.info = null;
    this.local = null; // {media, ns, ctx, analyser, publishing}
    this.micOn = true;
    this.camOn = true;
    this.remote = new Map(); // slot key -> tile
    this.selfTile = null;
    this.levelTimer = 0;
  }

  render() {
    this.startButton = el('button', { type: 'button', class: 'primary', disabled: true, onclick: () => (this.local ? this.stop() : this.start()) }, 'Start camera');
    this.micButton = el('button', { type: 'button', disabled: true, onclick: () => this.setMicrophone(!this.micOn) }, 'Mute microphone');
    this.camButton = el('button', { type: 'button', disabled: true, onclick: () => this.setCamera(!this.camOn) }, 'Turn camera off');
    this.soundButton = el('button', { type: 'button', hidden: true, onclick: () => this.resumeSound() }, 'Turn sound on');
    this.tilesList = el('ul', { class: 'tiles', 'aria-label': 'Participants' });
    this.empty = el('p', { class: 'empty' }, 'Nobody is on camera yet.');
    this.error = el('p', { class: 'error', role: 'alert' });
    this.shadowRoot.append(el('style', { text: baseCSS + css }),
      el('section', { class: 'panel', 'aria-labelledby': 'title' },
        el('div', { class: 'top' },
          el('h2', { id: 'title' }, 'Video ', this.countOut = el('span', { class: 'count', 'aria-hidden': 'true' }, '0')),
          el('div', { class: 'controls', role: 'toolbar', 'aria-label': 'Camera and microphone' },
            this.startButton, this.micButton, this.camButton, this.soundButton)),
        this.tilesList, this.empty, this.error));
    this.levelTimer = setInterval(() => this.levels(), 120);
    this.draw();
  }

  disconnectedCallback() {
    super.disconnectedCallback();
    clearInterval(this.levelTimer);
    this.levelTimer = 0;
  }

  connectedCallback() {
    super.connectedCallback();
    if (!this.levelTimer && this.rendered) this.levelTimer = setInterval(() => this.levels(), 120);
  }

  /** tiles describes what is shown, for the page and its tests. */
  get tiles() {
    const out = [];
    if (this.selfTile) {
      out.push({ user: this.connection?.user ?? '', stream: this.info?.stream ?? '', self: true, external: false,
        audio: this.micOn, video: this.camOn, decodedFrames: 0, fps: 0,
        level: this.selfTile.level ?? 0, speaking: this.selfTile.speaking === true, muted: false,
        publishing: this.local?.publishing === true, sentFrames: this.local?.ns.info.publish?.videoFrames ?? 0 });
    }
    for (const t of this.remote.values()) {
      out.push({ user: t.slot.user, stream: t.slot.stream, self: false, external: t.slot.external === true,
        audio: t.slot.audio !== false, video: t.slot.video !== false,
        decodedFrames: t.ns.decodedFrames, fps: t.ns.currentFPS, level: t.level ?? 0, speaking: t.speaking === true, muted: t.muted });
    }
    return out;
  }

  async join(nc, conn, current) {
    this.error.textContent = '';
    try {
      const { info, sos } = await joinComponent(nc, FCSVideoConference.type, this.instance);
      if (!current()) return;
      this.info = info;
      this.so = sos.streams;
      this.onSync = () => this.draw();
      this.so.addEventListener('sync', this.onSync);
      this.startButton.disabled = false;
      this.draw();
      if (this.hasAttribute('autostart')) this.start();
    } catch (err) {
      if (current()) this.error.textContent = err.message;
    }
  }

  leave() {
    this.so?.removeEventListener('sync', this.onSync);
    this.so = null;
    this.info = null;
    this.stop();
    this.startButton.disabled = true;
    this.draw();
  }

  /** start opens the camera and microphone and publishes them. */
  async start() {
    if (this.local || !this.nc || !this.info) return;
    const nc = this.nc;
    this.startButton.disabled = true;
    let media;
    try {
      const [w, h] = (this.getAttribute('resolution') || '640x480').split('x').map(Number);
      const fps = Math.min(60, Math.max(1, Number(this.getAttribute('framerate')) || 25));
      media = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: w || 640 }, height: { ideal: h || 480 }, frameRate: { ideal: fps } },
        audio: { echoCancellation: true, noiseSuppression: true },
      });
    } catch (err) {
      this.error.textContent = `The camera or microphone is not available (${err.message}).`;
      this.startButton.disabled = false;
      return;
    }
    if (nc !== this.nc) {
      for (const t of media.getTracks()) t.stop();
      return;
    }
    const ns = new NetStream(nc);
    const local = { media, ns, publishing: false };
    this.local = local;
    ns.addEventListener('netStatus', (e) => {
      const code = e.info.code;
      if (code === 'NetStream.Publish.Start') {
        local.publishing = true;
        this.error.textContent = '';
      } else if (code === 'NetStream.Publish.BadName' || code === 'NetStream.Publish.Failed') {
        this.error.textContent = 'You cannot publish in this room now (it may be full).';
        this.stop();
      }
    });
    const [video] = media.getVideoTracks();
    const [audio] = media.getAudioTracks();
    if (video) {
      video.enabled = this.camOn;
      ns.attachCamera(video, { bitrate: Number(this.getAttribute('bitrate')) || 600000, keyFrameInterval: 2 });
    }
    if (audio) {
      audio.enabled = this.micOn;
      ns.attachAudio(audio, { codec: this.getAttribute('audio-codec') || 'auto' });
      try {
        local.ctx = new AudioContext();
        local.analyser = local.ctx.createAnalyser();
        local.analyser.fftSize = 2048;
        local.ctx.createMediaStreamSource(media).connect(local.analyser);
      } catch {
        local.analyser = null;
      }
    }
    ns.publish(this.info.stream);
    if (!this.micOn || !this.camOn) callComponent(nc, FCSVideoConference.type, this.instance, 'setMuted', !this.micOn, !this.camOn);
    this.startButton.textContent = 'Stop sharing';
    this.startButton.classList.remove('primary');
    this.startButton.disabled = false;
    this.micButton.disabled = false;
    this.camButton.disabled = false;
    this.draw();
  }

  /** stop ends publishing and releases the camera and microphone. */
  stop() {
    const local = this.local;
    if (!local) return;
    this.local = null;
    local.ns.close();
    for (const t of local.media.getTracks()) t.stop();
    local.ctx?.close().catch(() => {});
    this.startButton.textContent = 'Start camera';
    this.startButton.classList.add('primary');
    this.startButton.disabled = !this.nc;
    this.micButton.disabled = true;
    this.camButton.disabled = true;
    this.draw();
  }

  /** setMicrophone sends sound (true) or silence (false), and tells the others. */
  setMicrophone(on) {
    this.micOn = on;
    for (const t of this.local?.media.getAudioTracks() ?? []) t.enabled = on;
    this.micButton.classList.toggle('off', !on);
    this.micButton.textContent = on ? 'Mute microphone' : 'Unmute microphone';
    this.tellMutes();
  }

  /** setCamera sends pictures (true) or black (false), and tells the others. */
  setCamera(on) {
    this.camOn = on;
    for (const t of this.local?.media.getVideoTracks() ?? []) t.enabled = on;
    this.camButton.classList.toggle('off', !on);
    this.camButton.textContent = on ? 'Turn camera off' : 'Turn camera on';
    this.tellMutes();
    this.draw();
  }

  tellMutes() {
    if (this.nc && this.info) callComponent(this.nc, FCSVideoConference.type, this.instance, 'setMuted', !this.micOn, !this.camOn);
    this.draw();
  }

  resumeSound() {
    for (const t of this.remote.values()) t.ns.audioContext?.resume();
    this.soundButton.hidden = true;
  }

  /** draw brings the tiles in line with the shared object. */
  draw() {
    if (!this.tilesList) return;
    const data = this.so?.data ?? {};
    const mine = this.info ? `p${this.info.clientId}` : null;
    const slots = Object.entries(data)
      .filter(([k, s]) => k !== mine && s && typeof s.stream === 'string')
      .sort(([, a], [, b]) => (a.since - b.since) || (a.stream < b.stream ? -1 : 1));
    const keep = new Set(slots.map(([k]) => k));
    for (const [k, t] of this.remote) {
      if (!keep.has(k)) {
        t.ns.close();
        t.li.remove();
        this.remote.delete(k);
      }
    }
    // Our own tile first, while the camera is open.
    if (this.local && !this.selfTile) this.selfTile = this.makeSelfTile();
    if (!this.local && this.selfTile) {
      this.selfTile.li.remove();
      this.selfTile = null;
    }
    const order = [];
    if (this.selfTile) {
      this.updateSelf();
      order.push(this.selfTile.li);
    }
    for (const [k, slot] of slots) {
      let t = this.remote.get(k);
      if (!t || t.slot.stream !== slot.stream) {
        if (t) {
          t.ns.close();
          t.li.remove();
        }
        t = this.makeTile(slot);
        this.remote.set(k, t);
      }
      t.slot = slot;
      this.updateTile(t);
      order.push(t.li);
    }
    // Reorder only what moved, so playing canvases are not re-inserted.
    order.forEach((li, i) => {
      if (this.tilesList.children[i] !== li) this.tilesList.insertBefore(li, this.tilesList.children[i] ?? null);
    });
    this.countOut.textContent = String(order.length);
    this.empty.hidden = order.length > 0;
  }

  makeSelfTile() {
    const video = el('video', { muted: true, autoplay: true, playsInline: true, 'aria-hidden': 'true' });
    video.srcObject = this.local.media;
    video.play().catch(() => {});
    const name = this.connection?.user ?? 'You';
    const t = {
      video,
      nameOut: el('span', { class: 'name' }, `${name} (you)`),
      badges: el('span', { class: 'label-badges' }),
      meter: el('span', { class: 'meter', 'aria-hidden': 'true' }, el('i'), el('i'), el('i')),
    };
    t.placeholder = el('div', { class: 'placeholder', 'aria-hidden': 'true' }, el('span', { style: `background:${colorFor(name)}` }, initials(name)));
    t.li = el('li', { class: 'tile self has-video' }, video, t.placeholder, t.meter, el('div', { class: 'label' }, t.nameOut, t.badges));
    return t;
  }

  updateSelf() {
    const t = this.selfTile;
    const name = this.connection?.user ?? 'You';
    t.nameOut.textContent = `${name} (you)`;
    t.li.classList.toggle('has-video', this.camOn);
    t.badges.replaceChildren(...this.badgesFor(this.micOn, this.camOn, false));
    t.li.setAttribute('aria-label', this.describe(`${name} (you)`, this.micOn, this.camOn, t.speaking));
  }

  makeTile(slot) {
    const canvas = el('canvas', { 'aria-hidden': 'true' });
    const ns = new NetStream(this.nc);
    ns.bufferTime = 0.3;
    ns.attachView(canvas);
    ns.play(slot.stream);
    const t = {
      slot, ns, canvas, muted: false,
      nameOut: el('span', { class: 'name' }),
      badges: el('span', { class: 'label-badges' }),
      meter: el('span', { class: 'meter', 'aria-hidden': 'true' }, el('i'), el('i'), el('i')),
    };
    t.muteButton = el('button', { type: 'button', class: 'mute', onclick: () => this.muteTile(t, !t.muted) }, 'Mute');
    t.placeholder = el('div', { class: 'placeholder', 'aria-hidden': 'true' }, t.initialsOut = el('span'));
    t.li = el('li', { class: 'tile' }, canvas, t.placeholder, t.meter, t.muteButton, el('div', { class: 'label' }, t.nameOut, t.badges));
    return t;
  }

  updateTile(t) {
    const s = t.slot;
    const name = s.user || s.stream;
    t.nameOut.textContent = name;
    t.initialsOut.textContent = initials(name);
    t.initialsOut.style.background = colorFor(name);
    t.muteButton.setAttribute('aria-label', `${t.muted ? 'Unmute' : 'Mute'} ${name} for you`);
    t.badges.replaceChildren(...this.badgesFor(s.audio !== false, s.video !== false, s.external === true));
    t.li.classList.toggle('has-video', s.video !== false && t.ns.decodedFrames > 0);
    t.li.setAttribute('aria-label', this.describe(name, s.audio !== false, s.video !== false, t.speaking));
  }

  badgesFor(audio, video, external) {
    const out = [];
    if (!audio) out.push(el('span', { class: 'badge off', title: 'Microphone off' }, 'mic off'));
    if (!video) out.push(el('span', { class: 'badge off', title: 'Camera off' }, 'camera off'));
    if (external) out.push(el('span', { class: 'badge', title: 'Published by an encoder' }, 'stream'));
    return out;
  }

  describe(name, audio, video, speaking) {
    const parts = [name];
    if (speaking) parts.push('speaking');
    if (!audio) parts.push('microphone off');
    if (!video) parts.push('camera off');
    return parts.join(', ');
  }

  muteTile(t, muted) {
    t.muted = muted;
    t.ns.volume = muted ? 0 : 1;
    t.muteButton.classList.toggle('off', muted);
    t.muteButton.textContent = muted ? 'Muted' : 'Mute';
    this.updateTile(t);
  }

  /** levels measures each tile's sound for the speaking indicators. */
  levels() {
    const now = performance.now();
    let suspended = false;
    const measure = (t, analyser, allowed) => {
      let level = 0;
      if (analyser && allowed) {
        t.samples ??= new Float32Array(analyser.fftSize);
        analyser.getFloatTimeDomainData(t.samples);
        let sum = 0;
        for (const v of t.samples) sum += v * v;
        level = Math.sqrt(sum / t.samples.length);
      }
      t.level = level;
      if (level > SPEAKING) t.heardAt = now;
      const speaking = now - (t.heardAt ?? -Infinity) < HOLD;
      const bars = t.meter.children;
      for (let i = 0; i < bars.length; i++) bars[i].style.height = `${Math.min(14, 3 + level * (60 + i * 40))}px`;
      if (speaking !== t.speaking) {
        t.speaking = speaking;
        t.li.classList.toggle('speaking', speaking);
        return true;
      }
      return false;
    };
    if (this.selfTile) {
      if (measure(this.selfTile, this.local?.analyser, this.micOn)) this.updateSelf();
    }
    for (const t of this.remote.values()) {
      const ctx = t.ns.audioContext;
      if (ctx && ctx.state !== 'running') suspended = true;
      if (!t.analyser && t.ns.audioNode && ctx) {
        t.analyser = ctx.createAnalyser();
        t.analyser.fftSize = 2048;
        t.ns.audioNode.connect(t.analyser);
      }
      const changed = measure(t, t.analyser, t.slot.audio !== false && !t.muted);
      const hasVideo = t.slot.video !== false && t.ns.decodedFrames > 0;
      if (changed || hasVideo !== t.li.classList.contains('has-video')) this.updateTile(t);
    }
    this.soundButton.hidden = !suspended;
  }
}

if (!customElements.get('fcs-video-conference')) customElements.define('fcs-video-conference', FCSVideoConference);
export { FCSVideoConference };
