// What the communication components' custom elements share
// (docs/components.md#the-browser-elements): finding the page's
// <fcs-connect> and following its connection, joining a server-side
// component (its connect call and shared objects), the common styles.
// Only the public API of /openfcs.js is used.

import { SharedObject } from '../openfcs.js';

/**
 * The styles every element starts from. Each custom property has a
 * default, so a page sets only what it wants to change (on :root, or on
 * one element): --fcs-font, --fcs-fg, --fcs-bg, --fcs-surface,
 * --fcs-border, --fcs-muted, --fcs-accent, --fcs-accent-fg, --fcs-danger,
 * --fcs-ok, --fcs-warn, --fcs-speaking, --fcs-tile-bg, --fcs-radius,
 * --fcs-gap, --fcs-focus.
 */
export const baseCSS = `
:host {
  --_font: var(--fcs-font, 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  --_fg: var(--fcs-fg, light-dark(#1c1c1f, #ececf0));
  --_bg: var(--fcs-bg, light-dark(#ffffff, #18181b));
  --_surface: var(--fcs-surface, light-dark(#f5f5f4, #232327));
  --_border: var(--fcs-border, light-dark(#e2e2df, #34343b));
  --_muted: var(--fcs-muted, light-dark(#62646a, #a3a3ab));
  --_accent: var(--fcs-accent, light-dark(#2457d6, #7aa2ff));
  --_accent-fg: var(--fcs-accent-fg, light-dark(#ffffff, #0d1326));
  --_danger: var(--fcs-danger, light-dark(#c62828, #ff8a80));
  --_ok: var(--fcs-ok, light-dark(#1e8e3e, #6fdc8c));
  --_warn: var(--fcs-warn, light-dark(#c77700, #ffc266));
  --_speaking: var(--fcs-speaking, light-dark(#1e8e3e, #6fdc8c));
  --_tile-bg: var(--fcs-tile-bg, #111114);
  --_radius: var(--fcs-radius, 10px);
  --_gap: var(--fcs-gap, .75rem);
  --_focus: var(--fcs-focus, var(--_accent));
  color-scheme: light dark;
  display: block;
  font: var(--_font);
  color: var(--_fg);
  box-sizing: border-box;
}
:host([hidden]) { display: none; }
*, *::before, *::after { box-sizing: inherit; }
.panel {
  background: var(--_bg);
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  padding: var(--_gap);
  height: 100%;
  display: flex;
  flex-direction: column;
  gap: var(--_gap);
  min-height: 0;
}
h2 {
  margin: 0;
  font-size: .8rem;
  font-weight: 650;
  text-transform: uppercase;
  letter-spacing: .06em;
  color: var(--_muted);
  display: flex;
  align-items: center;
  gap: .5em;
}
.count {
  font-weight: 600;
  color: var(--_fg);
  background: var(--_surface);
  border-radius: 999px;
  padding: 0 .5em;
  letter-spacing: 0;
}
button {
  font: inherit;
  font-size: .9rem;
  color: var(--_fg);
  background: var(--_surface);
  border: 1px solid var(--_border);
  border-radius: calc(var(--_radius) * .7);
  padding: .4em .8em;
  cursor: pointer;
}
button:hover:not(:disabled) { border-color: var(--_muted); }
button:disabled { opacity: .5; cursor: default; }
button.primary { background: var(--_accent); border-color: var(--_accent); color: var(--_accent-fg); font-weight: 600; }
button[aria-pressed="true"] { background: var(--_accent); border-color: var(--_accent); color: var(--_accent-fg); }
input, select {
  font: inherit;
  color: var(--_fg);
  background: var(--_bg);
  border: 1px solid var(--_border);
  border-radius: calc(var(--_radius) * .7);
  padding: .4em .6em;
  min-width: 0;
}
:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
.vh {
  position: absolute !important;
  width: 1px; height: 1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
}
.error { color: var(--_danger); margin: 0; font-size: .9rem; }
.error:empty { display: none; }
.hint { color: var(--_muted); font-size: .85rem; margin: 0; }
`;

/** colorFor gives a stable, readable color for a name (avatars, chat names). */
export function colorFor(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${h % 360} 62% 42%)`;
}

/** initials of a name for an avatar. */
export function initials(name) {
  const parts = String(name).trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] ?? '?').slice(0, 2);
  return s.toUpperCase();
}

/** el creates an element with properties and children. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'style') e.style.cssText = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children);
  return e;
}

/**
 * findConnection returns the <fcs-connect> an element follows: the one
 * named by its connection attribute (an id), else the page's first.
 */
export async function findConnection(host) {
  await customElements.whenDefined('fcs-connect');
  const pick = () => {
    const id = host.getAttribute('connection');
    return id ? document.getElementById(id) : document.querySelector('fcs-connect');
  };
  let c = pick();
  if (!c && document.readyState === 'loading') {
    await new Promise((resolve) => document.addEventListener('DOMContentLoaded', resolve, { once: true }));
    c = pick();
  }
  return c;
}

/**
 * joinComponent connects a server-side component instance
 * ("FCChat", "main") over nc and subscribes to its shared objects. It
 * resolves with {info, sos} (sos by part name, each synchronised), or
 * rejects with an Error saying why.
 */
export async function joinComponent(nc, type, instance) {
  let info;
  try {
    info = await nc.call(`${type}.${instance}.connect`);
  } catch (err) {
    throw new Error(`${type} ${instance}: ${err?.description ?? err?.message ?? err?.code ?? 'the call failed'} (does the application load components.asc?)`);
  }
  if (!info?.ok) throw new Error(info?.error ?? `${type} ${instance}: refused`);
  const sos = {};
  for (const [part, d] of Object.entries(info.so ?? {})) {
    sos[part] = SharedObject.getRemote(d.name, nc.uri, d.persistent === true);
  }
  await Promise.all(Object.values(sos).map((so) => so.connect(nc)));
  return { info, sos };
}

/** callComponent calls a component method; it resolves with the answer, whose ok may be false. */
export async function callComponent(nc, type, instance, method, ...args) {
  try {
    return await nc.call(`${type}.${instance}.${method}`, ...args);
  } catch (err) {
    return { ok: false, error: err?.description ?? err?.message ?? 'The call failed.' };
  }
}

/**
 * ComponentElement is the base of the elements bound to a server-side
 * component: it follows the page's <fcs-connect>, and calls join(nc,
 * connection) when it is connected and leave() when it is not.
 * Subclasses set static type ("FCChat") and implement render(), join()
 * and leave().
 */
export class ComponentElement extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.connection = null;
    this.nc = null;
    this.generation = 0;
    this.onState = () => this.follow();
  }

  /** instance is the server-side instance name, attribute instance (default "main"). */
  get instance() { return this.getAttribute('instance') || 'main'; }

  connectedCallback() {
    if (!this.rendered) {
      this.rendered = true;
      this.render();
    }
    findConnection(this).then((c) => {
      if (!this.isConnected || !c) return;
      this.connection = c;
      c.addEventListener('fcs-statechange', this.onState);
      this.follow();
    });
  }

  disconnectedCallback() {
    this.connection?.removeEventListener('fcs-statechange', this.onState);
    this.connection = null;
    if (this.nc) {
      this.nc = null;
      this.generation++;
      this.leave();
    }
  }

  follow() {
    const c = this.connection;
    const nc = c?.state === 'connected' ? c.nc : null;
    if (nc === this.nc) return;
    const gen = ++this.generation;
    if (this.nc) this.leave();
    this.nc = nc;
    if (nc) this.join(nc, c, () => gen === this.generation);
  }

  /** attach: subclasses run (nc, connection, current) when connected; current() turns false once left. */
  join() {}

  leave() {}
}
