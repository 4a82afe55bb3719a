// <fcs-connection-light>: FCS's ConnectionLight. A dot that says how the
// page's connection is: grey not connected, amber joining, green
// connected, red failed or lost; its label says it in words and, while
// connected, the traffic of the last seconds (docs/components.md#fcs-connection-light).
//
//   <fcs-connection-light></fcs-connection-light>     follows the page's <fcs-connect>
//   <fcs-connection-light connection="id">             follows that one
//
// Attribute compact hides the words (they stay the element's accessible
// name and tooltip).

import { baseCSS, el, findConnection } from './base.js';

const css = `
:host { display: inline-block; }
.light { display: inline-flex; align-items: center; gap: .45rem; font-size: .85rem; color: var(--_muted); white-space: nowrap; }
.dot {
  width: .7rem; height: .7rem; border-radius: 50%;
  background: var(--_muted);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--_muted) 20%, transparent);
}
.connected .dot { background: var(--_ok); box-shadow: 0 0 0 3px color-mix(in srgb, var(--_ok) 25%, transparent); }
.connecting .dot { background: var(--_warn); animation: pulse 1s ease-in-out infinite; }
.failed .dot, .closed .dot { background: var(--_danger); box-shadow: 0 0 0 3px color-mix(in srgb, var(--_danger) 25%, transparent); }
:host([compact]) .text { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
@keyframes pulse { 50% { opacity: .35; } }
@media (prefers-reduced-motion: reduce) { .connecting .dot { animation: none; } }
`;

const words = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  failed: 'Connection failed',
  closed: 'Connection lost',
};

class FCSConnectionLight extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.text = el('span', { class: 'text' });
    this.box = el('span', { class: 'light idle', role: 'status' }, el('span', { class: 'dot', 'aria-hidden': 'true' }), this.text);
    this.shadowRoot.append(el('style', { text: baseCSS + css }), this.box);
    this.onState = () => this.update();
    this.last = null;
    this.rate = '';
  }

  /** state mirrors the followed <fcs-connect>'s. */
  get state() { return this.connection?.state ?? 'idle'; }

  connectedCallback() {
    this.update();
    findConnection(this).then((c) => {
      if (!this.isConnected || !c) return;
      this.connection = c;
      c.addEventListener('fcs-statechange', this.onState);
      this.update();
    });
    this.timer = setInterval(() => this.measure(), 2000);
  }

  disconnectedCallback() {
    clearInterval(this.timer);
    this.connection?.removeEventListener('fcs-statechange', this.onState);
    this.connection = null;
  }

  /** measure turns the connection's byte counters into a rate. */
  measure() {
    const nc = this.state === 'connected' ? this.connection.nc : null;
    if (!nc) {
      this.last = null;
      this.rate = '';
      return;
    }
    const now = performance.now();
    const { bytesIn, bytesOut } = nc.stats;
    if (this.last) {
      const s = (now - this.last.at) / 1000;
      const kin = ((bytesIn - this.last.bytesIn) * 8) / 1000 / s;
      const kout = ((bytesOut - this.last.bytesOut) * 8) / 1000 / s;
      this.rate = `${Math.round(kin)} kbit/s in, ${Math.round(kout)} kbit/s out`;
    }
    this.last = { at: now, bytesIn, bytesOut };
    this.update();
  }

  update() {
    const state = this.state;
    this.box.className = `light ${state}`;
    const c = this.connection;
    const shown = words[state] ?? state;
    let label = shown;
    if (state === 'connected' && c?.user) label += ` as ${c.user}`;
    if ((state === 'failed' || state === 'closed') && c?.reason) label += `: ${c.reason}`;
    this.text.textContent = shown;
    this.box.title = this.rate && state === 'connected' ? `${label} (${this.rate})` : label;
    this.box.setAttribute('aria-label', label);
  }
}

if (!customElements.get('fcs-connection-light')) customElements.define('fcs-connection-light', FCSConnectionLight);
export { FCSConnectionLight };
