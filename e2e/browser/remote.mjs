// A Chromium under remote control for the e2e tests of the browser
// library: the Go test writes one JSON request per line on stdin and reads
// one JSON answer per line on stdout ({"ok":true,"result":...} or
// {"ok":false,"error":"..."}), in order. Requests:
//
//   {"op":"open","page":"a","url":"http://..."}      a new tab named a
//   {"op":"eval","page":"a","js":"return 1+1"}      the body of an async function
//   {"op":"wait","page":"a","js":"return x > 1","timeout":10000}  polls the body (async, like eval) until truthy
//   {"op":"draw","page":"a","selector":"#board","points":[[0.1,0.1],[0.5,0.3]]}
//   {"op":"fill","page":"a","selector":"#text","value":"hi"}
//   {"op":"click","page":"a","selector":"#send"}
//   {"op":"screenshot","page":"a","path":"/abs/file.png"}
//   {"op":"press","page":"a","key":"Tab"}          a key (Playwright's names: Enter, ArrowLeft, Shift+Tab)
//   {"op":"type","page":"a","text":"hi"}            characters into whatever has the focus
//   {"op":"ax","page":"a"}                          Chromium's accessibility tree: [{role, name, focusable, focused, disabled}]
//   {"op":"problems","page":"a"}                    console errors, exceptions, failed requests so far
//   {"op":"close","page":"a"}
//
// Debian's chromium runs headless with a fake camera and microphone
// (--use-fake-device-for-media-stream, --use-fake-ui-for-media-stream) and
// sound allowed without a gesture; every run uses a new profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'openfcs-remote-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    // Timers and rAF of pages in the background run at full rate: several
    // tabs play and publish at once.
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
  ],
  viewport: { width: 1100, height: 1400 },
  // The tests' TLS ports have self-signed certificates.
  ignoreHTTPSErrors: true,
  // The admin console sends a Content-Security-Policy without
  // 'unsafe-eval'; the wait and eval requests are strings evaluated in
  // the page.
  bypassCSP: true,
});

const pages = new Map(); // name -> {page, problems}

function tab(name) {
  const t = pages.get(name);
  if (!t) throw new Error(`no page ${name}`);
  return t;
}

async function open(name, url) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`exception: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on('response', (resp) => {
    if (resp.status() >= 400) problems.push(`HTTP ${resp.status()}: ${resp.url()}`);
  });
  pages.set(name, { page, problems });
  await page.goto(url, { waitUntil: 'load' });
  return { title: await page.title() };
}

// axNodes lists what assistive technology sees of a page that can take
// the focus or act (Chromium's own tree, shadow roots included): the
// roles and names a screen reader announces.
async function axNodes(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const prop = (n, name) => n.properties?.find((p) => p.name === name)?.value?.value;
    const acting = new Set(['button', 'textbox', 'combobox', 'checkbox', 'link', 'slider', 'searchbox', 'spinbutton', 'radio', 'switch', 'menuitem', 'tab']);
    return nodes
      .filter((n) => !n.ignored && n.role?.value !== 'RootWebArea' && (prop(n, 'focusable') === true || acting.has(n.role?.value)))
      .map((n) => ({ role: n.role?.value ?? '', name: n.name?.value ?? '', focusable: prop(n, 'focusable') === true,
        focused: prop(n, 'focused') === true, disabled: prop(n, 'disabled') === true }));
  } finally {
    await cdp.detach();
  }
}

async function handle(req) {
  switch (req.op) {
    case 'open':
      return open(req.page, req.url);
    case 'eval': {
      const { page } = tab(req.page);
      // The body runs as an async function in the page; its value must be JSON.
      return page.evaluate(`(async () => { ${req.js} })()`);
    }
    case 'wait': {
      const { page } = tab(req.page);
      // Polled here rather than with waitForFunction: that one takes a
      // returned Promise as truthy at once, so a body reading getStats()
      // would never wait. Like eval, the body is an async function.
      const deadline = Date.now() + (req.timeout ?? 30000);
      for (;;) {
        if (await page.evaluate(`(async () => { ${req.js} })()`)) return true;
        if (Date.now() > deadline) throw new Error(`wait timed out after ${req.timeout ?? 30000} ms: ${req.js}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    case 'draw': {
      const { page } = tab(req.page);
      const el = page.locator(req.selector);
      await el.scrollIntoViewIfNeeded();
      const box = await el.boundingBox();
      const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
      const [x0, y0] = at(req.points[0]);
      await page.mouse.move(x0, y0);
      await page.mouse.down();
      for (const p of req.points.slice(1)) {
        const [x, y] = at(p);
        await page.mouse.move(x, y, { steps: 5 });
      }
      await page.mouse.up();
      return true;
    }
    case 'fill':
      await tab(req.page).page.fill(req.selector, req.value);
      return true;
    case 'click':
      await tab(req.page).page.click(req.selector);
      return true;
    case 'screenshot':
      await tab(req.page).page.screenshot({ path: req.path, fullPage: true });
      return true;
    case 'press': {
      const { page } = tab(req.page);
      await page.bringToFront();
      await page.keyboard.press(req.key);
      return true;
    }
    case 'type': {
      const { page } = tab(req.page);
      await page.bringToFront();
      await page.keyboard.type(req.text);
      return true;
    }
    case 'ax':
      return axNodes(tab(req.page).page);
    case 'problems':
      return tab(req.page).problems;
    case 'close': {
      const t = tab(req.page);
      pages.delete(req.page);
      await t.page.close();
      return t.problems;
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = { ok: true, result: (await handle(JSON.parse(line))) ?? null };
  } catch (err) {
    answer = { ok: false, error: String(err?.stack ?? err) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await context.close();
rmSync(profile, { recursive: true, force: true });
