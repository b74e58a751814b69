// What every end-to-end script of the page shares: the server (scripts/web_serve.py), Chromium
// (playwright-core on Debian's /usr/bin/chromium), and a watch on each page that fails the script
// on an uncaught page error or a request to another origin. Runs are identified: the page writes
// `ID:KIND:STATE` to body[data-run] (www/status.js), so a check waits for *its* run to end and
// never reads an earlier run's numbers, and every run's end checks the error banner.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const artifacts = join(here, 'artifacts');
export const shared = process.env.ADVSEG_SHARED || join(root, '..', 'shared');
mkdirSync(artifacts, { recursive: true });

/** Print one measurement as a JSON line. @param {string} what @param {any} value */
export const report = (what, value) => console.log(JSON.stringify({ [what]: value }));

/** Chromium's flags for every test browser. */
export const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-dev-shm-usage'];

/**
 * scripts/web_serve.py on a free port (its first line of output is the URL).
 * @param {string[]} [args] e.g. ['--root', 'dist']
 * @returns {Promise<{proc: import('node:child_process').ChildProcess, url: string}>}
 */
export function serve(args = []) {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [join(root, 'scripts', 'web_serve.py'), '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, url: String(d).trim() }));
    p.once('exit', (code) => reject(new Error(`web_serve.py exited with ${code}`)));
  });
}

/** Debian's Chromium, headless, with `extra` flags. @param {string[]} [extra] */
export function launch(extra = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: [...BASE_ARGS, ...extra] });
}

/** Uncaught page errors and foreign requests seen by every watched page of the script. */
export const seen = { pageErrors: /** @type {string[]} */ ([]), foreign: /** @type {string[]} */ ([]) };

/**
 * Watch a browser context: uncaught page errors (each fails the script: `checkSeen`), requests
 * that leave `origin`, console errors printed.
 * @param {import('playwright-core').BrowserContext} context @param {string} origin @param {string} [label]
 */
export function watch(context, origin, label = 'page') {
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) seen.foreign.push(u);
  });
  context.on('page', (p) => watchPage(p, label));
  for (const p of context.pages()) watchPage(p, label);
}

/** @param {import('playwright-core').Page} page @param {string} label */
function watchPage(page, label) {
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[${label} console error] ${m.text()}`); });
  page.on('pageerror', (e) => {
    console.log(`[${label} uncaught exception] ${e.message}`);
    seen.pageErrors.push(`${label}: ${e.message}`);
  });
}

/** Fail on any uncaught page error or foreign request so far. */
export function checkSeen() {
  assert.deepEqual(seen.pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(seen.foreign, [], 'no request leaves the app\'s origin');
}

/**
 * Helpers bound to a page.
 * @param {import('playwright-core').Page} page @param {string} [prefix] screenshot name prefix
 */
export function helpers(page, prefix = '') {
  const h = {
    shot: (/** @type {string} */ name, full = true) => page.screenshot({ path: join(artifacts, `${prefix}${name}.png`), fullPage: full }),
    idle: () => page.waitForFunction(() => !document.body.classList.contains('busy') && !document.getElementById('run').disabled, null, { timeout: 900000 }),
    banner: async () => ((await page.isVisible('#banner')) ? await page.textContent('#banner-text') : null),
    loaded: () => page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 900000 }),
    /** The id of the last run the page started (0: none). */
    lastRun: () => page.evaluate(() => Number(document.body.dataset.runs || 0)),
    /**
     * Start a run with `start` (a click) and wait for that run — the next id — to end; it must
     * end as `expect` ('done': without the error banner; 'error': with it). Returns its id.
     * @param {() => Promise<unknown>} start @param {'done' | 'error' | 'cancelled'} [expect]
     */
    async runBy(start, expect = 'done') {
      const id = (await h.lastRun()) + 1;
      await start();
      await page.waitForFunction((k) => {
        const r = document.body.dataset.run || '';
        return r.startsWith(`${k}:`) && !r.endsWith(':running');
      }, id, { timeout: 900000, polling: 250 }).catch(async (e) => {
        const last = await page.evaluate(() => [document.body.dataset.run, document.getElementById('stage')?.textContent]).catch(() => null);
        throw new Error(`run ${id} did not end: ${e.message}; the page's last run: ${JSON.stringify(last)}`);
      });
      const state = await page.evaluate(() => document.body.dataset.run);
      const banner = await h.banner();
      assert.ok(state && state.endsWith(`:${expect}`), `run ${id} ended as ${state}, expected ${expect}; banner: ${banner}`);
      if (expect === 'error') assert.ok(banner, `run ${id} failed without the banner`);
      else assert.equal(banner, null, `run ${id} (${state}) shows the banner`);
      checkSeen();
      return id;
    },
    /** Press Run and wait for this run. @param {'done' | 'error' | 'cancelled'} [expect] */
    run: (expect = 'done') => h.runBy(() => page.click('#run'), expect),
    /** The metrics table's rows, checked to belong to run `id`. @param {number} id */
    async metricRows(id) {
      assert.equal(await page.getAttribute('#metrics', 'data-run'), String(id), 'the table shows this run');
      return page.$$eval('#metrics tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent || '')));
    },
  };
  return h;
}
