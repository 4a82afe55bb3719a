// <fcs-connect>: the login box (FCS's SimpleConnect). It owns the page's
// NetConnection, which every other fcs- element follows
// (docs/components.md#fcs-connect).
//
//   <fcs-connect uri="rtmp://host/room/lobby"></fcs-connect>       a name form, then Join
//   <fcs-connect uri="..." user="alice"></fcs-connect>              joins at once as alice
//
// Attributes: uri (without it a field asks for it), user (joins at once),
// password (adds a password field). Properties: nc, state ("idle",
// "connecting", "connected", "failed", "closed"), user, clientId, reason.
// Methods: connect(user, password), disconnect(). Event: fcs-statechange
// (detail: {state, user, reason}).

import { NetConnection } from '../openfcs.js';
import { baseCSS, el } from './base.js';

const css = `
.box { display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; }
form { display: flex; align-items: center; gap: .5rem; flex-wrap: wrap; margin: 0; }
label { display: flex; align-items: center; gap: .4rem; font-size: .9rem; color: var(--_muted); }
input.user { width: 11rem; }
input.uri { width: 18rem; }
.who { display: flex; align-items: center; gap: .5rem; }
.who strong { color: var(--_fg); }
.who[hidden], form[hidden] { display: none; }
.message { font-size: .85rem; color: var(--_muted); }
.message.error { color: var(--_danger); }
`;

class FCSConnect extends HTMLElement {
  static observedAttributes = ['user', 'uri'];

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this.nc = null;
    this.state = 'idle';
    this.user = null;
    this.clientId = null;
    this.reason = '';
    this.attempt = 0;
  }

  connectedCallback() {
    if (!this.form) this.render();
    this.sync();
    const user = this.getAttribute('user');
    if (user && this.state === 'idle') this.connect(user, this.getAttribute('password') ?? undefined);
  }

  disconnectedCallback() {
    this.disconnect();
  }

  attributeChangedCallback(name, old, value) {
    if (!this.form || old === value) return;
    this.sync();
    if (name === 'user' && value && (this.state === 'idle' || this.state === 'closed' || this.state === 'failed')) this.connect(value);
  }

  render() {
    const id = (s) => `fcs-connect-${s}`;
    this.uriInput = el('input', { class: 'uri', id: id('uri'), type: 'url', spellcheck: 'false', autocomplete: 'off', placeholder: 'rtmp://host/app/instance' });
    this.userInput = el('input', { class: 'user', id: id('user'), required: true, maxlength: '40', autocomplete: 'nickname', placeholder: 'Your name' });
    this.passInput = el('input', { class: 'pass', id: id('pass'), type: 'password', autocomplete: 'current-password' });
    this.uriLabel = el('label', { for: id('uri') }, 'Server', this.uriInput);
    this.passLabel = el('label', { for: id('pass') }, 'Password', this.passInput);
    this.joinButton = el('button', { class: 'primary', type: 'submit' }, 'Join');
    this.form = el('form', { 'aria-label': 'Join' },
      this.uriLabel,
      el('label', { for: id('user') }, el('span', { class: 'vh' }, 'Your name'), this.userInput),
      this.passLabel,
      this.joinButton);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.connect(this.userInput.value, this.passInput.value || undefined);
    });
    this.nameOut = el('strong');
    this.leaveButton = el('button', { type: 'button', onclick: () => this.disconnect() }, 'Leave');
    this.who = el('div', { class: 'who', hidden: true }, el('span', { class: 'signed' }, 'Signed in as '), this.nameOut, this.leaveButton);
    this.message = el('span', { class: 'message', role: 'status', 'aria-live': 'polite' });
    this.shadowRoot.append(el('style', { text: baseCSS + css }), el('div', { class: 'box' }, this.form, this.who, this.message));
  }

  /** sync shows the fields the attributes leave open and the current state. */
  sync() {
    this.uriLabel.hidden = this.hasAttribute('uri');
    this.passLabel.hidden = !this.hasAttribute('password');
    if (!this.uriInput.value) this.uriInput.value = this.getAttribute('uri') ?? '';
    if (!this.userInput.value && this.getAttribute('user')) this.userInput.value = this.getAttribute('user');
    const on = this.state === 'connected';
    const busy = this.state === 'connecting';
    this.form.hidden = on;
    this.who.hidden = !on;
    this.joinButton.disabled = busy;
    this.nameOut.textContent = this.user ?? '';
    const text = {
      idle: '',
      connecting: 'Joining…',
      connected: '',
      failed: this.reason,
      closed: this.reason,
    }[this.state];
    this.message.textContent = text;
    this.message.classList.toggle('error', this.state === 'failed' || (this.state === 'closed' && this.reason !== ''));
  }

  setState(state, reason = '') {
    this.state = state;
    this.reason = reason;
    this.sync();
    this.dispatchEvent(new CustomEvent('fcs-statechange', { detail: { state, user: this.user, reason } }));
  }

  /** connect joins as user; resolves true when connected. */
  async connect(user, password) {
    const name = String(user ?? '').trim();
    const uri = this.getAttribute('uri') || this.uriInput.value.trim();
    if (!name) {
      this.setState('failed', 'Enter your name.');
      this.userInput.focus();
      return false;
    }
    if (!uri) {
      this.setState('failed', 'Enter the server address.');
      this.uriInput.focus();
      return false;
    }
    this.close();
    const attempt = ++this.attempt;
    const nc = new NetConnection();
    this.nc = nc;
    this.user = name;
    this.setState('connecting');
    nc.addEventListener('netStatus', (e) => {
      if (attempt !== this.attempt) return;
      const code = e.info.code;
      if (code === 'NetConnection.Connect.Closed' && this.state === 'connected') this.setState('closed', 'The connection was lost.');
      if (code === 'NetConnection.Connect.AppShutdown' && this.state === 'connected') this.setState('closed', 'The room was closed by the server.');
    });
    try {
      const args = password === undefined ? [name] : [name, password];
      await nc.connect(uri, ...args);
    } catch (info) {
      if (attempt !== this.attempt) return false;
      this.nc = null;
      this.setState('failed', info?.application?.message ?? info?.description ?? info?.message ?? 'Could not connect.');
      return false;
    }
    if (attempt !== this.attempt) return false;
    // The name the server gave (made unique: "alice 2"), from the login component.
    try {
      const who = await nc.call('FCSimpleConnect.main.connect');
      if (who?.ok && who.user) this.user = who.user;
      this.clientId = who?.clientId ?? String(nc.farID ?? '');
    } catch {
      this.clientId = String(nc.farID ?? '');
    }
    if (attempt !== this.attempt) return false;
    // The form hides: a keyboard user's focus moves on to Leave instead
    // of falling back to the top of the page.
    const typing = this.form.contains(this.shadowRoot.activeElement);
    this.setState('connected');
    if (typing) this.leaveButton.focus();
    return true;
  }

  close() {
    this.attempt++;
    const nc = this.nc;
    this.nc = null;
    this.clientId = null;
    nc?.close();
  }

  /** disconnect leaves: the other elements follow. */
  disconnect() {
    const was = this.state;
    const leaving = this.who.contains(this.shadowRoot.activeElement);
    this.close();
    if (was !== 'idle') this.setState('idle');
    if (leaving) this.userInput.focus();
  }
}

if (!customElements.get('fcs-connect')) customElements.define('fcs-connect', FCSConnect);
export { FCSConnect };
