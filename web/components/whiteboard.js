// <fcs-whiteboard>: a shared drawing (FCS's WhiteBoard) on the server-side
// FCWhiteBoard: shapes are slots s<seq> of its shapes shared object,
// added with addShape, so a page that joins later draws the same board
// (docs/components.md#fcs-whiteboard).
//
//   <fcs-whiteboard instance="main"></fcs-whiteboard>
//
// Tools: pen, line, rectangle, ellipse, text; colors, widths, undo (your
// own shapes), clear. With the keyboard: focus the board, move the cursor
// with the arrow keys (Shift: larger steps), Space or Enter to start and
// finish a shape (the pen adds a point with Space and finishes with
// Enter; the text tool asks for the text), Escape to cancel, Ctrl+Z to
// undo. Property shapes: the shapes drawn, in order.

import { baseCSS, ComponentElement, callComponent, el, joinComponent } from './base.js';

/** SCALE: coordinates are integers in 0..SCALE on both axes (the server's). */
const SCALE = 10000;
/** ASPECT of the board, width over height. */
const ASPECT = 16 / 9;

const css = `
.panel { gap: .6rem; }
.top { display: flex; flex-direction: column; align-items: stretch; gap: .5rem; }
.head { display: flex; justify-content: space-between; align-items: center; gap: .5rem; }
.head button { font-size: .8rem; padding: .2em .6em; }
.toolbar { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
.group { display: flex; gap: .25rem; align-items: center; }
.sep { width: 1px; align-self: stretch; background: var(--_border); margin: 0 .2rem; }
.tool { padding: .3em .55em; font-size: .85rem; }
.swatch {
  width: 1.6rem; height: 1.6rem; padding: 0; border-radius: 50%;
  border: 2px solid var(--_bg); box-shadow: 0 0 0 1px var(--_border);
}
.swatch[aria-pressed="true"] { box-shadow: 0 0 0 2px var(--_accent); background: var(--c); }
select { padding: .25em .4em; font-size: .85rem; }
.stage { position: relative; width: 100%; aspect-ratio: ${ASPECT}; }
canvas {
  position: absolute; inset: 0; width: 100%; height: 100%;
  background: var(--fcs-board-bg, #ffffff);
  border: 1px solid var(--_border); border-radius: calc(var(--_radius) * .7);
  touch-action: none; cursor: crosshair;
}
.textentry { position: absolute; display: flex; gap: .25rem; }
.textentry[hidden] { display: none; }
.textentry input { width: 14rem; }
`;

const COLORS = [
  ['#1d1d1f', 'Black'], ['#d93025', 'Red'], ['#f29900', 'Orange'], ['#188038', 'Green'], ['#1a73e8', 'Blue'], ['#9334e6', 'Purple'],
];
const TOOLS = [['stroke', 'Pen'], ['line', 'Line'], ['rect', 'Rectangle'], ['ellipse', 'Ellipse'], ['text', 'Text']];
const WIDTHS = [[2, 'Thin'], [4, 'Medium'], [8, 'Thick']];
const clamp = (v) => Math.max(0, Math.min(SCALE, Math.round(v)));

class FCSWhiteBoard extends ComponentElement {
  static type = 'FCWhiteBoard';

  constructor() {
    super();
    this.shapes = [];
    this.so = null;
    this.tool = 'stroke';
    this.color = COLORS[0][0];
    this.width = 4;
    this.current = null; // the shape being drawn
    this.pending = new Map(); // local id -> shape sent, drawn until the server's slot arrives
    this.cursor = null; // keyboard cursor [x, y] in board units
    this.nextLocal = 1;
  }

  render() {
    const toolButtons = TOOLS.map(([t, label]) => el('button', {
      type: 'button', class: 'tool', 'aria-pressed': String(t === this.tool), 'data-tool': t,
      onclick: () => this.pick('tool', t),
    }, label));
    const swatches = COLORS.map(([c, label]) => el('button', {
      type: 'button', class: 'swatch', 'aria-label': label, 'aria-pressed': String(c === this.color), 'data-color': c,
      style: `background:${c};--c:${c}`, onclick: () => this.pick('color', c),
    }));
    this.widthSelect = el('select', { id: 'width', onchange: () => { this.width = Number(this.widthSelect.value); } },
      ...WIDTHS.map(([w, label]) => el('option', { value: String(w), selected: w === this.width }, label)));
    this.undoButton = el('button', { type: 'button', disabled: true, onclick: () => this.undo() }, 'Undo');
    this.clearButton = el('button', { type: 'button', disabled: true, onclick: () => this.clear() }, 'Clear');
    this.toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Drawing tools' },
      el('div', { class: 'group', role: 'group', 'aria-label': 'Tool' }, ...toolButtons),
      el('span', { class: 'sep', 'aria-hidden': 'true' }),
      el('div', { class: 'group', role: 'group', 'aria-label': 'Color' }, ...swatches),
      el('span', { class: 'sep', 'aria-hidden': 'true' }),
      el('label', { for: 'width', class: 'vh' }, 'Line width'), this.widthSelect);
    this.canvas = el('canvas', {
      tabindex: '0', role: 'img', 'aria-roledescription': 'whiteboard', 'aria-describedby': 'keys',
    });
    this.textInput = el('input', { id: 'wbtext', maxlength: '200', autocomplete: 'off', placeholder: 'Text, then Enter' });
    this.textEntry = el('form', { class: 'textentry', hidden: true },
      el('label', { for: 'wbtext', class: 'vh' }, 'Text to place'), this.textInput, el('button', { type: 'submit' }, 'Place'));
    this.textEntry.addEventListener('submit', (e) => {
      e.preventDefault();
      this.placeText();
    });
    this.textInput.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.hideText();
    });
    this.stage = el('div', { class: 'stage' }, this.canvas, this.textEntry);
    this.error = el('p', { class: 'error', role: 'alert' });
    const keys = el('p', { class: 'vh', id: 'keys' },
      'Arrow keys move the cursor, Shift for larger steps. Space or Enter starts and finishes a shape; with the pen, Space adds a point and Enter finishes. Escape cancels, Control Z undoes your last shape.');
    this.shadowRoot.append(el('style', { text: baseCSS + css }),
      el('section', { class: 'panel', 'aria-labelledby': 'title' },
        el('div', { class: 'top' },
          el('div', { class: 'head' }, el('h2', { id: 'title' }, 'Whiteboard'),
            el('div', { class: 'group', role: 'group', 'aria-label': 'Board' }, this.undoButton, this.clearButton)),
          this.toolbar),
        this.stage, this.error, keys));
    this.bindPointer();
    this.canvas.addEventListener('keydown', (e) => this.key(e));
    this.canvas.addEventListener('blur', () => { this.cursor = null; this.paint(); });
    new ResizeObserver(() => this.resize()).observe(this.stage);
    this.describe();
  }

  pick(kind, value) {
    this[kind] = value;
    const attr = kind === 'tool' ? 'data-tool' : 'data-color';
    for (const b of this.toolbar.querySelectorAll(`[${attr}]`)) b.setAttribute('aria-pressed', String(b.getAttribute(attr) === value));
    if (kind === 'tool' && value !== 'text') this.hideText();
  }

  async join(nc, conn, current) {
    this.error.textContent = '';
    try {
      const { sos } = await joinComponent(nc, FCSWhiteBoard.type, this.instance);
      if (!current()) return;
      this.so = sos.shapes;
      this.onSync = () => this.refresh();
      this.so.addEventListener('sync', this.onSync);
      this.undoButton.disabled = false;
      this.clearButton.disabled = false;
      this.refresh();
    } catch (err) {
      if (current()) this.error.textContent = err.message;
    }
  }

  leave() {
    this.so?.removeEventListener('sync', this.onSync);
    this.so = null;
    this.pending.clear();
    this.undoButton.disabled = true;
    this.clearButton.disabled = true;
    this.refresh();
  }

  /** refresh reads the shapes from the shared object and repaints. */
  refresh() {
    const data = this.so?.data ?? {};
    this.shapes = Object.values(data)
      .filter((s) => s && Number.isFinite(s.seq) && Array.isArray(s.points))
      .sort((a, b) => a.seq - b.seq);
    const have = new Set(this.shapes.map((s) => s.seq));
    for (const [id, p] of this.pending) if (p.seq !== undefined && have.has(p.seq)) this.pending.delete(id);
    this.describe();
    this.paint();
  }

  describe() {
    const n = this.shapes.length;
    this.canvas.setAttribute('aria-label', `Shared whiteboard, ${n} shape${n === 1 ? '' : 's'}`);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = globalThis.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr));
    const h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    this.paint();
  }

  paint() {
    const c = this.canvas;
    const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    for (const s of this.shapes) this.drawShape(g, s);
    for (const s of this.pending.values()) this.drawShape(g, s);
    if (this.current) this.drawShape(g, this.current);
    if (this.cursor) {
      const [x, y] = this.px(this.cursor);
      g.save();
      g.strokeStyle = '#1a73e8';
      g.lineWidth = Math.max(1, c.width / 600);
      g.beginPath();
      g.moveTo(x - 10, y); g.lineTo(x + 10, y);
      g.moveTo(x, y - 10); g.lineTo(x, y + 10);
      g.stroke();
      g.restore();
    }
  }

  px([x, y]) { return [(x / SCALE) * this.canvas.width, (y / SCALE) * this.canvas.height]; }

  drawShape(g, s) {
    const p = s.points;
    if (!Array.isArray(p) || p.length < 2) return;
    const W = this.canvas.width;
    const H = this.canvas.height;
    const X = (v) => (v / SCALE) * W;
    const Y = (v) => (v / SCALE) * H;
    g.save();
    g.strokeStyle = g.fillStyle = typeof s.color === 'string' ? s.color : '#000';
    // Widths are thousandths of the board's width, so every page agrees.
    g.lineWidth = Math.max(1, ((Number(s.width) || 3) * W) / 1000);
    g.lineCap = 'round';
    g.lineJoin = 'round';
    switch (s.kind) {
      case 'stroke':
        g.beginPath();
        g.moveTo(X(p[0]), Y(p[1]));
        if (p.length === 2) g.lineTo(X(p[0]) + 0.1, Y(p[1]));
        for (let i = 2; i + 1 < p.length; i += 2) g.lineTo(X(p[i]), Y(p[i + 1]));
        g.stroke();
        break;
      case 'line':
        g.beginPath();
        g.moveTo(X(p[0]), Y(p[1]));
        g.lineTo(X(p[2] ?? p[0]), Y(p[3] ?? p[1]));
        g.stroke();
        break;
      case 'rect': {
        const x = Math.min(X(p[0]), X(p[2] ?? p[0]));
        const y = Math.min(Y(p[1]), Y(p[3] ?? p[1]));
        const w = Math.abs(X(p[2] ?? p[0]) - X(p[0]));
        const h = Math.abs(Y(p[3] ?? p[1]) - Y(p[1]));
        if (s.fill) g.fillRect(x, y, w, h); else g.strokeRect(x, y, w, h);
        break;
      }
      case 'ellipse': {
        const cx = (X(p[0]) + X(p[2] ?? p[0])) / 2;
        const cy = (Y(p[1]) + Y(p[3] ?? p[1])) / 2;
        g.beginPath();
        g.ellipse(cx, cy, Math.abs(X(p[2] ?? p[0]) - X(p[0])) / 2, Math.abs(Y(p[3] ?? p[1]) - Y(p[1])) / 2, 0, 0, Math.PI * 2);
        if (s.fill) g.fill(); else g.stroke();
        break;
      }
      case 'text':
        g.font = `${Math.max(6, ((Number(s.size) || 400) * H) / SCALE)}px system-ui, sans-serif`;
        g.textBaseline = 'top';
        g.fillText(String(s.text ?? ''), X(p[0]), Y(p[1]));
        break;
      default:
        break;
    }
    g.restore();
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [clamp(((e.clientX - r.left) / r.width) * SCALE), clamp(((e.clientY - r.top) / r.height) * SCALE)];
  }

  bindPointer() {
    const c = this.canvas;
    c.addEventListener('pointerdown', (e) => {
      if (!this.so || e.button !== 0) return;
      e.preventDefault();
      c.focus();
      this.cursor = null;
      const pt = this.point(e);
      if (this.tool === 'text') {
        this.askText(pt);
        return;
      }
      c.setPointerCapture(e.pointerId);
      this.current = this.newShape(pt);
      this.paint();
    });
    c.addEventListener('pointermove', (e) => {
      if (!this.current) return;
      this.extend(this.point(e));
      this.paint();
    });
    const end = () => {
      if (!this.current) return;
      const s = this.current;
      this.current = null;
      this.commit(s);
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', () => { this.current = null; this.paint(); });
  }

  newShape(pt) {
    const s = { kind: this.tool, color: this.color, width: this.width, points: [...pt] };
    if (this.tool !== 'stroke') s.points.push(...pt);
    return s;
  }

  /** extend moves the end of the current shape (or adds a pen point) to pt. */
  extend(pt) {
    const s = this.current;
    if (s.kind === 'stroke') {
      const n = s.points.length;
      const dx = pt[0] - s.points[n - 2];
      const dy = pt[1] - s.points[n - 1];
      // Points closer than 0.2% of the board add nothing visible.
      if (dx * dx + dy * dy < 400 || n >= 3998) return;
      s.points.push(...pt);
    } else {
      s.points[2] = pt[0];
      s.points[3] = pt[1];
    }
  }

  async commit(shape) {
    if (!this.nc) return;
    const id = this.nextLocal++;
    this.pending.set(id, shape);
    this.paint();
    const r = await callComponent(this.nc, FCSWhiteBoard.type, this.instance, 'addShape', shape);
    if (r?.ok) {
      shape.seq = r.seq;
      this.error.textContent = '';
      if (this.shapes.some((s) => s.seq === r.seq)) this.pending.delete(id);
    } else {
      this.pending.delete(id);
      this.error.textContent = r?.error ?? 'The shape was not added.';
    }
    this.paint();
  }

  askText(pt) {
    this.textAt = pt;
    const r = this.canvas.getBoundingClientRect();
    this.textEntry.style.left = `${Math.min(r.width - 250, (pt[0] / SCALE) * r.width)}px`;
    this.textEntry.style.top = `${(pt[1] / SCALE) * r.height}px`;
    this.textEntry.hidden = false;
    this.textInput.value = '';
    this.textInput.focus();
  }

  hideText() {
    this.textEntry.hidden = true;
    this.textAt = null;
  }

  placeText() {
    const text = this.textInput.value.trim();
    const at = this.textAt;
    this.hideText();
    this.canvas.focus();
    if (!text || !at) return;
    // Text size in ten-thousandths of the board's height, as the server keeps it.
    this.commit({ kind: 'text', color: this.color, width: this.width, points: at, text, size: 300 + this.width * 40 });
  }

  key(e) {
    const step = e.shiftKey ? 500 : 100;
    const move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      this.undo();
      return;
    }
    if (!this.so) return;
    if (move) {
      e.preventDefault();
      this.cursor ??= [SCALE / 2, SCALE / 2];
      this.cursor = [clamp(this.cursor[0] + move[0]), clamp(this.cursor[1] + move[1])];
      // A pen's keyboard points are added with Space; other shapes follow the cursor.
      if (this.current && this.current.kind !== 'stroke') this.extend(this.cursor);
      this.paint();
      return;
    }
    if (e.key === 'Escape') {
      this.current = null;
      this.paint();
      return;
    }
    if (e.key !== ' ' && e.key !== 'Enter') return;
    e.preventDefault();
    this.cursor ??= [SCALE / 2, SCALE / 2];
    if (this.tool === 'text') {
      this.askText(this.cursor);
      return;
    }
    if (!this.current) {
      this.current = this.newShape(this.cursor);
      this.paint();
      return;
    }
    if (this.current.kind === 'stroke' && e.key === ' ') {
      this.current.points.push(...this.cursor);
      this.paint();
      return;
    }
    if (this.current.kind === 'stroke') this.current.points.push(...this.cursor);
    const s = this.current;
    this.current = null;
    this.commit(s);
  }

  async undo() {
    if (!this.nc) return;
    const r = await callComponent(this.nc, FCSWhiteBoard.type, this.instance, 'undo');
    this.error.textContent = r?.ok ? '' : (r?.error ?? '');
  }

  async clear() {
    if (!this.nc) return;
    const r = await callComponent(this.nc, FCSWhiteBoard.type, this.instance, 'clear');
    this.error.textContent = r?.ok ? '' : (r?.error ?? 'The board was not cleared.');
  }
}

if (!customElements.get('fcs-whiteboard')) customElements.define('fcs-whiteboard', FCSWhiteBoard);
export { FCSWhiteBoard };
