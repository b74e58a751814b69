// What the page decides on this machine's GPU (scripts/gpu_bench.sh, stage `calibration`):
// opens index.html with the default backend (auto), waits until the model is loaded, and
// reports the calibration the page made (`document.body.dataset.calibration`: the devices timed
// and the one kept, and why), the backend badge and its note, and the seconds from page load.
//
//   node scripts/gpu_page_probe.mjs [--model NAME] [--json FILE] [--timeout SECONDS]
//
// Needs scripts/web_build.sh and tests/e2e's playwright-core; Chromium from CHROMIUM with the
// extra flags of CHROMIUM_FLAGS (the GPU's, from gpu_bench.sh's stage webgpu_flags).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'tests', 'e2e', 'package.json'))('playwright-core');
const argv = process.argv.slice(2);
const opt = (/** @type {string} */ k, /** @type {string} */ d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const timeout = Number(opt('--timeout', '120')) * 1000;

const server = spawn('python3', [join(root, 'scripts', 'web_serve.py'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  server.stdout.once('data', (d) => resolve(String(d).trim()));
  server.once('exit', (code) => reject(new Error(`web_serve.py exited with ${code}`)));
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--enable-unsafe-webgpu', '--no-first-run',
    ...(process.env.CHROMIUM_FLAGS || '').split(' ').filter(Boolean)],
});
let code = 0;
try {
  const page = await browser.newPage();
  /** @type {string[]} */
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  const model = opt('--model', '');
  await page.goto(model ? `${url}?model=${encodeURIComponent(model)}` : url);
  // the model is loaded once the page has written its calibration (empty when none was made)
  await page.waitForFunction(() => document.body.dataset.calibration !== undefined, null, { timeout });
  const text = async (/** @type {string} */ sel) => ((await page.$(sel)) ? (await page.textContent(sel)) || '' : null);
  const raw = await page.evaluate(() => document.body.dataset.calibration || '');
  const result = {
    loaded_s: (Date.now() - t0) / 1000,
    calibration: raw ? JSON.parse(raw) : null,
    backend_badge: await text('#backend'),
    note: await text('#gpu-note'),
    gpu: await page.evaluate(async () => {
      const nav = /** @type {any} */ (navigator);
      const a = nav.gpu && (await nav.gpu.requestAdapter());
      return a ? { ...(a.info ? { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description } : {}), fallback: a.isFallbackAdapter ?? null } : null;
    }),
    page_errors: errors,
  };
  console.log(JSON.stringify(result));
  const file = opt('--json', '');
  if (file) writeFileSync(file, JSON.stringify(result, null, 1));
  if (errors.length) { console.error(`page errors: ${errors.join('; ')}`); code = 1; }
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await browser.close();
  server.kill();
}
process.exit(code);
