// Chromium driver for the e2e suite: the Go tests in e2e/ start the real
// server, then run
//
//	node run.mjs page  <url> <screenshot.png>
//	node run.mjs flvjs <page url> <flv url> <seconds> <screenshot.png>
//	node run.mjs ws    <page url> <ws url>
//
// and read one JSON object from stdout. Debian's chromium is driven by
// playwright-core (no browser download); every run uses a new profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

async function withBrowser(fn) {
  const profile = mkdtempSync(join(tmpdir(), 'openfcs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: flags,
    viewport: { width: 1100, height: 800 },
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    const problems = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`exception: ${err.message}`));
    page.on('requestfailed', (req) => {
      // A live stream cut at the end of the test is not a page problem.
      if (!req.url().endsWith('.flv')) problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
    });
    page.on('response', (resp) => {
      if (resp.status() >= 400) problems.push(`HTTP ${resp.status()}: ${resp.url()}`);
    });
    return await fn(page, problems);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// page: load url, wait for the application list, keep a screenshot.
async function loadPage(url, shot) {
  return withBrowser(async (page, problems) => {
    await page.goto(url, { waitUntil: 'networkidle' });
    await page.waitForFunction(() => !document.getElementById('apps-status')?.textContent.startsWith('Loading'));
    const apps = await page.$$eval('#apps h3', (hs) => hs.map((h) => h.textContent));
    const status = await page.textContent('#apps-status');
    const title = await page.title();
    await page.screenshot({ path: shot, fullPage: true });
    return { title, apps, status, problems };
  });
}

// flvjs: open a page, play the HTTP-FLV URL with flv.js into a <video>,
// sample playback for the given seconds.
async function playFLV(pageURL, flvURL, seconds, shot) {
  return withBrowser(async (page, problems) => {
    await page.goto(pageURL, { waitUntil: 'load' });
    const mse = await page.evaluate(() => window.MediaSource?.isTypeSupported('video/mp4; codecs="avc1.640028,mp4a.40.2"') ?? false);
    await page.addScriptTag({ path: require.resolve('flv.js/dist/flv.min.js') });
    await page.evaluate((url) => {
      const video = document.createElement('video');
      video.id = 'player';
      video.muted = true;
      video.width = 640;
      document.body.prepend(video);
      window.flvErrors = [];
      window.flvLog = [];
      window.flvjs.LoggingControl.enableVerbose = false;
      window.flvjs.LoggingControl.addLogListener((type, line) => {
        window.flvLog.push(`${type}: ${line}`);
        if (window.flvLog.length > 50) window.flvLog.shift();
      });
      const player = window.flvjs.createPlayer({ type: 'flv', isLive: true, url }, { enableStashBuffer: false });
      player.on(window.flvjs.Events.ERROR, (type, detail, info) => window.flvErrors.push(`${type} ${detail} ${info?.msg ?? ''}`));
      player.attachMediaElement(video);
      player.load();
      video.play().catch((e) => window.flvErrors.push(`play(): ${e.message}`));
      window.flvPlayer = player;
    }, flvURL);
    const sample = () => page.evaluate(() => {
      const v = document.getElementById('player');
      const q = v.getVideoPlaybackQuality();
      return { time: v.currentTime, decoded: q.totalVideoFrames, dropped: q.droppedVideoFrames, width: v.videoWidth, height: v.videoHeight };
    });
    // Wait for playback to start, then measure over the interval.
    const deadline = Date.now() + 15000;
    let first = await sample();
    while (first.time === 0 && Date.now() < deadline) {
      await page.waitForTimeout(200);
      first = await sample();
    }
    await page.waitForTimeout(seconds * 1000);
    const last = await sample();
    await page.screenshot({ path: shot });
    const flvErrors = await page.evaluate(() => window.flvErrors);
    const flvLog = await page.evaluate(() => window.flvLog);
    await page.evaluate(() => window.flvPlayer.destroy());
    return { mse, first, last, flvErrors, flvLog, problems };
  });
}

// ws: from a page, open a plain WebSocket (binaryType "arraybuffer") to
// the RTMP endpoint and run the start of the RTMP handshake: send C0 and
// C1 in two messages, collect S0, S1 and S2 across however many messages
// the server sends, then send C2.
async function wsHandshake(pageURL, wsURL) {
  return withBrowser(async (page, problems) => {
    await page.goto(pageURL, { waitUntil: 'load' });
    const res = await page.evaluate((url) => new Promise((resolve) => {
      const ws = new WebSocket(url, ['rtmp']);
      ws.binaryType = 'arraybuffer';
      const got = [];
      let bytes = 0;
      const done = (outcome) => {
        resolve({ outcome, protocol: ws.protocol, messages: got.length, bytes, s0: got.length ? new Uint8Array(got[0])[0] : -1, types: [...new Set(got.map((m) => Object.prototype.toString.call(m)))] });
        ws.close();
      };
      ws.onopen = () => {
        const c1 = new Uint8Array(1536);
        crypto.getRandomValues(c1.subarray(8));
        ws.send(new Uint8Array([3]));
        ws.send(c1);
      };
      ws.onmessage = (ev) => {
        got.push(ev.data);
        bytes += ev.data.byteLength;
        if (bytes >= 3073) {
          // C2 echoes S1.
          const all = new Uint8Array(bytes);
          let off = 0;
          for (const m of got) { all.set(new Uint8Array(m), off); off += m.byteLength; }
          ws.send(all.subarray(1, 1537));
          done('handshake');
        }
      };
      ws.onerror = () => done('error');
      ws.onclose = (ev) => { if (bytes < 3073) done(`closed ${ev.code}`); };
      setTimeout(() => done('timeout'), 10000);
    }), wsURL);
    return { ...res, problems };
  });
}

const [cmd, ...args] = process.argv.slice(2);
let result;
try {
  switch (cmd) {
    case 'page':
      result = await loadPage(args[0], args[1]);
      break;
    case 'flvjs':
      result = await playFLV(args[0], args[1], Number(args[2]), args[3]);
      break;
    case 'ws':
      result = await wsHandshake(args[0], args[1]);
      break;
    default:
      throw new Error(`unknown command ${cmd}; want page, flvjs or ws`);
  }
} catch (err) {
  process.stderr.write(`run.mjs: ${err.stack ?? err}\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(result) + '\n');
