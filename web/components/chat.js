// <fcs-chat>: a chat in order with its history (FCS's Chat), on the
// server-side FCChat: lines are slots m<seq> of its history shared
// object, posted with sendMessage (docs/components.md#fcs-chat).
//
//   <fcs-chat instance="main"></fcs-chat>
//
// Attribute noclear hides the clear button. Property messages: the lines
// shown, as {seq, user, text, time}.

import { baseCSS, ComponentElement, callComponent, colorFor, el, joinComponent } from './base.js';

const css = `
.panel { min-height: 16rem; }
ol {
  list-style: none; margin: 0; padding: 0 .2rem 0 0;
  flex: 1 1 auto; min-height: 6rem; overflow-y: auto;
  display: flex; flex-direction: column; gap: .55rem;
}
li { display: grid; grid-template-columns: 1fr auto; column-gap: .5rem; }
/* A short conversation sits by the field, as in any messenger. */
li:first-child { margin-top: auto; }
.who { font-weight: 650; font-size: .88rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
time { color: var(--_muted); font-size: .75rem; }
.text { grid-column: 1 / -1; margin: .1rem 0 0; overflow-wrap: anywhere; white-space: pre-wrap; }
li.mine .text {
  background: color-mix(in srgb, var(--_accent) 12%, var(--_bg));
  border-radius: calc(var(--_radius) * .7);
  padding: .25rem .5rem;
}
li.server .who { color: var(--_muted); font-style: italic; }
.empty { color: var(--_muted); font-size: .9rem; margin: auto 0; text-align: center; }
form { display: flex; gap: .5rem; }
form input { flex: 1; }
.tools { display: flex; justify-content: space-between; align-items: center; gap: .5rem; }
.tools button { font-size: .8rem; padding: .2em .6em; }
`;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

class FCSChat extends ComponentElement {
  static type = 'FCChat';

  constructor() {
    super();
    this.messages = [];
    this.so = null;
    this.me = null;
    this.items = new Map(); // seq -> li
  }

  render() {
    this.lines = el('ol', { 'aria-labelledby': 'title', role: 'log', 'aria-live': 'polite', tabindex: '0' });
    this.empty = el('p', { class: 'empty' }, 'No messages yet.');
    this.input = el('input', { id: 'text', autocomplete: 'off', maxlength: '1000', placeholder: 'Write a message…', disabled: true });
    this.send = el('button', { class: 'primary', type: 'submit', disabled: true }, 'Send');
    this.form = el('form', {}, el('label', { for: 'text', class: 'vh' }, 'Message'), this.input, this.send);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.post();
    });
    this.clearButton = el('button', { type: 'button', disabled: true, onclick: () => this.clear() }, 'Clear history');
    this.clearButton.hidden = this.hasAttribute('noclear');
    this.error = el('p', { class: 'error', role: 'alert' });
    this.shadowRoot.append(el('style', { text: baseCSS + css }),
      el('section', { class: 'panel', 'aria-labelledby': 'title' },
        el('div', { class: 'tools' }, el('h2', { id: 'title' }, 'Chat'), this.clearButton),
        this.lines, this.empty, this.error, this.form));
    this.draw();
  }

  async join(nc, conn, current) {
    this.error.textContent = '';
    try {
      const { info, sos } = await joinComponent(nc, FCSChat.type, this.instance);
      if (!current()) return;
      this.me = info.clientId;
      this.so = sos.history;
      this.onSync = (e) => this.draw(e.changeList);
      this.so.addEventListener('sync', this.onSync);
      this.enable(true);
      this.draw([{ code: 'clear' }]);
    } catch (err) {
      if (current()) this.error.textContent = err.message;
    }
  }

  leave() {
    this.so?.removeEventListener('sync', this.onSync);
    this.so = null;
    this.enable(false);
  }

  enable(on) {
    this.input.disabled = !on;
    this.send.disabled = !on;
    this.clearButton.disabled = !on;
  }

  async post() {
    const text = this.input.value.trim();
    if (!text || !this.nc) return;
    this.send.disabled = true;
    const r = await callComponent(this.nc, FCSChat.type, this.instance, 'sendMessage', text);
    this.send.disabled = !this.nc;
    if (r?.ok) {
      this.input.value = '';
      this.error.textContent = '';
    } else {
      this.error.textContent = r?.error ?? 'The message was not sent.';
    }
    this.input.focus();
  }

  async clear() {
    if (!this.nc) return;
    const r = await callComponent(this.nc, FCSChat.type, this.instance, 'clearHistory');
    this.error.textContent = r?.ok ? '' : (r?.error ?? 'The history was not cleared.');
  }

  /** draw brings the list in line with the shared object: lines added in order, removed ones dropped. */
  draw() {
    const data = this.so?.data ?? {};
    const lines = Object.values(data)
      .filter((m) => m && typeof m.text === 'string' && Number.isFinite(m.seq))
      .sort((a, b) => a.seq - b.seq);
    const keep = new Set(lines.map((m) => m.seq));
    for (const [seq, li] of this.items) {
      if (!keep.has(seq)) {
        li.remove();
        this.items.delete(seq);
      }
    }
    const atBottom = this.lines.scrollHeight - this.lines.scrollTop - this.lines.clientHeight < 40;
    let next = null;
    for (let i = lines.length - 1; i >= 0; i--) {
      const m = lines[i];
      let li = this.items.get(m.seq);
      if (!li) {
        li = this.line(m);
        this.items.set(m.seq, li);
        this.lines.insertBefore(li, next);
      }
      next = li;
    }
    this.messages = lines.map(({ seq, user, text, time }) => ({ seq, user, text, time }));
    this.empty.hidden = lines.length > 0;
    if (atBottom) this.lines.scrollTop = this.lines.scrollHeight;
  }

  line(m) {
    const mine = this.me !== null && String(m.cid) === String(this.me);
    const server = !m.cid;
    const who = m.user || 'server';
    const t = Number.isFinite(m.time) ? new Date(m.time) : null;
    return el('li', { class: `${mine ? 'mine' : ''} ${server ? 'server' : ''}`.trim() },
      el('span', { class: 'who', style: server ? '' : `color:${colorFor(who)}` }, mine ? `${who} (you)` : who),
      t ? el('time', { datetime: t.toISOString() }, timeFormat.format(t)) : el('span'),
      el('p', { class: 'text' }, m.text));
  }
}

if (!customElements.get('fcs-chat')) customElements.define('fcs-chat', FCSChat);
export { FCSChat };
