import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox','--disable-gpu','--use-fake-device-for-media-stream','--use-fake-ui-for-media-stream','--autoplay-policy=no-user-gesture-required'] });
const page = await browser.newPage();
page.on('console', (m) => console.log('console', m.type(), m.text()));
page.on('pageerror', (e) => console.log('pageerror', e.message));
await page.goto(process.argv[2]);
for (let i = 0; i < 5; i++) {
  await page.waitForTimeout(2000);
  console.log(JSON.stringify(await page.evaluate(() => ({ info: window.openfcsPage.ns?.info.publish, log: Array.from(document.querySelectorAll('#log li')).slice(0, 4).map((l) => l.textContent) }))));
}
await new Promise((r) => setTimeout(r, Number(process.argv[3] || 0)));
await browser.close();
