// <fcs-people-list>: who is in the room (FCS's PeopleList), from the
// server-side FCPeopleList's shared object (docs/components.md#fcs-people-list).
//
//   <fcs-people-list instance="main"></fcs-people-list>
//
// Property people: the names shown, in the order they joined.

import { baseCSS, ComponentElement, colorFor, el, initials, joinComponent } from './base.js';

const css = `
ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: .35rem; overflow: auto; min-height: 0; }
li { display: flex; align-items: center; gap: .6rem; padding: .25rem .2rem; border-radius: calc(var(--_radius) * .6); }
li.me { background: var(--_surface); }
.avatar {
  flex: none; width: 2rem; height: 2rem; border-radius: 50%;
  display: grid; place-items: center;
  color: #fff; font-size: .75rem; font-weight: 700; letter-spacing: .02em;
}
.name { font-weight: 550; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.you, .status { color: var(--_muted); font-size: .85rem; }
.empty { color: var(--_muted); font-size: .9rem; }
`;

class FCSPeopleList extends ComponentElement {
  static type = 'FCPeopleList';

  constructor() {
    super();
    this.people = [];
    this.so = null;
    this.me = null;
    this.known = new Map(); // id -> name, for joined/left announcements
  }

  render() {
    const title = el('h2', { id: 'title' }, 'People ', this.countOut = el('span', { class: 'count', 'aria-hidden': 'true' }, '0'));
    this.list = el('ul', { 'aria-labelledby': 'title' });
    this.empty = el('p', { class: 'empty' }, 'Nobody yet.');
    this.announce = el('p', { class: 'vh', role: 'status', 'aria-live': 'polite' });
    this.error = el('p', { class: 'error', role: 'alert' });
    this.shadowRoot.append(el('style', { text: baseCSS + css }),
      el('section', { class: 'panel', 'aria-labelledby': 'title' }, title, this.list, this.empty, this.error, this.announce));
    this.draw();
  }

  async join(nc, conn, current) {
    this.error.textContent = '';
    try {
      const { info, sos } = await joinComponent(nc, FCSPeopleList.type, this.instance);
      if (!current()) return;
      this.me = info.clientId;
      this.so = sos.people;
      this.onSync = () => this.draw();
      this.so.addEventListener('sync', this.onSync);
      this.known = new Map();
      this.draw(true);
    } catch (err) {
      if (current()) this.error.textContent = err.message;
    }
  }

  leave() {
    this.so?.removeEventListener('sync', this.onSync);
    this.so = null;
    this.me = null;
    this.draw(true);
  }

  draw(quiet = false) {
    const entries = Object.values(this.so?.data ?? {})
      .filter((p) => p && typeof p.name === 'string')
      .sort((a, b) => (a.since - b.since) || (Number(a.id) - Number(b.id)));
    this.people = entries.map((p) => p.name);
    const items = entries.map((p) => {
      const me = String(p.id) === String(this.me);
      return el('li', { class: me ? 'me' : '' },
        el('span', { class: 'avatar', style: `background:${colorFor(p.name)}`, 'aria-hidden': 'true' }, initials(p.name)),
        el('span', { class: 'name' }, p.name),
        me ? el('span', { class: 'you' }, '(you)') : '',
        p.status ? el('span', { class: 'status' }, `· ${p.status}`) : '');
    });
    this.list.replaceChildren(...items);
    this.countOut.textContent = String(entries.length);
    this.empty.hidden = entries.length > 0;
    // Joins and departures, said once for screen readers.
    const now = new Map(entries.map((p) => [String(p.id), p.name]));
    if (!quiet) {
      const said = [];
      for (const [id, name] of now) if (!this.known.has(id) && id !== String(this.me)) said.push(`${name} joined`);
      for (const [id, name] of this.known) if (!now.has(id)) said.push(`${name} left`);
      if (said.length) this.announce.textContent = said.join('. ');
    }
    this.known = now;
  }
}

if (!customElements.get('fcs-people-list')) customElements.define('fcs-people-list', FCSPeopleList);
export { FCSPeopleList };
