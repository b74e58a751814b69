// The browser benchmark page (www/bench.html) in headless Chromium: segmentation time and attack
// steps per second per backend (cpu; webgpu on a hardware adapter, or a software one with
// --force-webgpu) and per worker count, for each batch size. Prints the page's JSON with the
// machine's load (1-minute load average before and after, cores) and writes it with --json.
//
//   node scripts/web_bench_page.mjs [--model NAME] [--backends cpu,webgpu] [--workers 1,2,4]
//        [--batches 1,4] [--steps 3] [--size 0] [--kind apgd] [--force-webgpu] [--json FILE]
//        [--timeout SECONDS] [--screenshot FILE.png] [--progress-every K]
//
// Needs scripts/web_build.sh (www/pkg, www/weights, www/samples) and tests/e2e's playwright-core
// (scripts/setup.sh); Chromium from CHROMIUM (default /usr/bin/chromium), with the extra flags of
// CHROMIUM_FLAGS (space-separated; e.g. a GPU machine's Vulkan flags: the JSON's `adapter` says
// whether the page got a hardware adapter).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'tests', 'e2e', 'package.json'))('playwright-core');
const argv = process.argv.slice(2);
const opt = (/** @type {string} */ k, /** @type {string} */ d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const query = new URLSearchParams({
  model: opt('--model', 'espnetv2-voc-s0.5'),
  backends: opt('--backends', 'cpu,webgpu'),
  workers: opt('--workers', '1,2,4'),
  batches: opt('--batches', '1,4'),
  steps: opt('--steps', '3'),
  size: opt('--size', '0'),
  kind: opt('--kind', 'apgd'),
  forceWebgpu: argv.includes('--force-webgpu') ? '1' : '0',
  progressEvery: opt('--progress-every', '1'),
});
const timeout = Number(opt('--timeout', '3000')) * 1000;

/** @returns {Promise<{proc: import('node:child_process').ChildProcess, url: string}>} */
function serve() {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [join(root, 'scripts', 'web_serve.py'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, url: String(d).trim() }));
    p.once('exit', (code) => reject(new Error(`web_serve.py exited with ${code}`)));
  });
}

const { proc, url } = await serve();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    '--disable-dev-shm-usage', '--enable-unsafe-webgpu', ...(process.env.CHROMIUM_FLAGS || '').split(' ').filter(Boolean)],
});
let code = 0;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error(`[bench page exception] ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[bench page error] ${m.text()}`); });
  const load = { before: loadavg()[0], cores: cpus().length };
  const t0 = Date.now();
  await page.goto(`${new URL('bench.html', url)}?${query}`);
  await page.waitForFunction(() => document.body.dataset.done, null, { timeout });
  const result = await page.evaluate(() => /** @type {any} */ (window).benchResult);
  const out = { ...result, wall_s: (Date.now() - t0) / 1000, machine: { ...load, after: loadavg()[0] } };
  const json = JSON.stringify(out, null, 1);
  console.log(json);
  const png = opt('--screenshot', '');
  if (png) await page.screenshot({ path: png, fullPage: true });
  const file = opt('--json', '');
  if (file) writeFileSync(file, json);
  if (result.error) { console.error(`bench failed: ${result.error}`); code = 1; }
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await browser.close();
  proc.kill();
}
process.exit(code);
