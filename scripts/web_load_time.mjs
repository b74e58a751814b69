// How long a first visit to the page takes on a slow link: headless Chromium with the network
// throttled through the DevTools protocol (Network.emulateNetworkConditions), an empty cache, no
// service worker yet. Prints one JSON line: when the model menu had entries, when the wasm module
// and the weights had arrived, when Run became usable (the first segmentation drawn), how many
// bytes went over the wire per file, and how often the wasm module was fetched.
//
//   node scripts/web_load_time.mjs URL [--mbit 20] [--latency-ms 20] [--runs 1]
//
// URL: a served page, e.g. from scripts/web_serve.py (www/ or --root dist) or a plain
// `python3 -m http.server` on dist/ (no compression).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// playwright-core from tests/e2e (scripts/setup.sh installs it there)
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'tests', 'e2e', 'package.json'))('playwright-core');

const argv = process.argv.slice(2);
const url = argv.find((a) => !a.startsWith('--') && /^https?:/.test(a));
const opt = (/** @type {string} */ k, /** @type {string} */ d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
if (!url) { console.error('usage: node scripts/web_load_time.mjs URL [--mbit 20] [--latency-ms 20] [--runs 1]'); process.exit(2); }
const mbit = Number(opt('--mbit', '20'));
const latency = Number(opt('--latency-ms', '20'));
const runs = Number(opt('--runs', '1'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
try {
  for (let k = 0; k < runs; k++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency, downloadThroughput: (mbit * 1e6) / 8, uploadThroughput: (mbit * 1e6) / 8,
    });
    /** @type {Record<string, {bytes: number, count: number, endS: number}>} */
    const files = {};
    const t0 = Date.now();
    context.on('requestfinished', async (r) => {
      const path = new URL(r.url()).pathname.replace(/^\//, '') || 'index.html';
      const s = await r.sizes().catch(() => ({ responseBodySize: 0, responseHeadersSize: 0 }));
      const f = files[path] || (files[path] = { bytes: 0, count: 0, endS: 0 });
      f.bytes += s.responseBodySize + s.responseHeadersSize;
      f.count += 1;
      f.endS = (Date.now() - t0) / 1000;
    });
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    const menus = page.waitForFunction(() => /** @type {HTMLSelectElement} */ (document.getElementById('model')).options.length > 0, null, { timeout: 600000 })
      .then(() => (Date.now() - t0) / 1000);
    await page.waitForFunction(() => document.body.dataset.firstSegmentationMs && !(/** @type {HTMLButtonElement} */ (document.getElementById('run'))).disabled, null, { timeout: 600000 });
    const usable = (Date.now() - t0) / 1000;
    await page.waitForTimeout(500);
    const big = Object.fromEntries(Object.entries(files).filter(([, f]) => f.bytes > 100000));
    const total = Object.values(files).reduce((s, f) => s + f.bytes, 0);
    console.log(JSON.stringify({ url, mbit, latency_ms: latency, menus_s: await menus, run_usable_s: usable,
      wire_mb: Number((total / 1e6).toFixed(2)), wasm_fetches: Object.entries(files).filter(([p]) => p.endsWith('.wasm')).reduce((s, [, f]) => s + f.count, 0), big_files: big }));
    await context.close();
  }
} finally {
  await browser.close();
}
