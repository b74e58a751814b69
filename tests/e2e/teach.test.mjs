// End-to-end test of the teaching views (www/grid.js, www/sweep.js, www/lessons.js) and of the
// deployable site (scripts/build_site.sh): playwright-core drives Debian's Chromium on the CPU
// backend with the small ESPNetv2 (s = 0.5) at a 256-pixel working size and 1–2 steps.
//   1. a batch of 4 targeted to image 2's map: 4 overview rows, adversarial maps drawn, the
//      agreement with the target listed per row (the report's numbers); Enter opens a row;
//   2. the ε sweep: one point per ε, its JSON download equals the page's table, CSV and PNG;
//   3. every lesson's "try it" runs to a result without an error banner;
//   4. dist/ from scripts/build_site.sh --no-build served by `python3 -m http.server` (no
//      COOP/COEP, no CSP header): load, upload, attack, download;
//   5. the page at 375 px wide (screenshot; nothing wider than the screen).
// Screenshots land in tests/e2e/artifacts/teach-*.png.
//
// Usage: node tests/e2e/teach.test.mjs   (after scripts/web_build.sh; env CHROMIUM)
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const artifacts = join(here, 'artifacts');
const shared = process.env.ADVSEG_SHARED || join(root, '..', 'shared');
const MODEL = 'espnetv2-voc-s0.5';
mkdirSync(artifacts, { recursive: true });

/** @param {string} what @param {any} value */
const report = (what, value) => console.log(JSON.stringify({ [what]: value }));

/** Start a server whose first output line (web_serve.py) or a fixed port (http.server) gives the URL. */
function serveWww() {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [join(root, 'scripts', 'web_serve.py'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, url: String(d).trim() }));
    p.once('exit', (code) => reject(new Error(`web_serve.py exited with ${code}`)));
  });
}

/** `python3 -m http.server` on dist/ (plain headers), on a free port. @param {string} dir */
async function servePlain(dir) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const p = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'ignore', 'ignore'] });
  const url = `http://127.0.0.1:${port}/`;
  for (let k = 0; k < 50; k++) {
    try { if ((await fetch(url)).ok) return { proc: p, url }; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  p.kill();
  throw new Error('http.server did not start');
}

const launchArgs = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-dev-shm-usage'];
const { proc, url } = /** @type {{proc: import('node:child_process').ChildProcess, url: string}} */ (await serveWww());
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: launchArgs });
/** @type {import('node:child_process').ChildProcess | null} */
let plainProc = null;
let failed = false;

/** Helpers bound to a page. @param {import('playwright-core').Page} page */
function helpers(page) {
  return {
    shot: (/** @type {string} */ name) => page.screenshot({ path: join(artifacts, `teach-${name}.png`), fullPage: true }),
    idle: () => page.waitForFunction(() => !document.body.classList.contains('busy') && !document.getElementById('run').disabled, null, { timeout: 600000 }),
    banner: async () => (await page.isVisible('#banner')) ? await page.textContent('#banner-text') : null,
    loaded: () => page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 }),
  };
}

try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));
  const h = helpers(page);
  const t0 = Date.now();
  await page.goto(`${url}?backend=cpu&model=${MODEL}&steps=1`);
  await h.loaded();
  await h.idle();
  await page.selectOption('#max-side', '256');
  await page.waitForFunction(() => /256/.test(document.getElementById('size-info').textContent || ''), null, { timeout: 600000 });
  await h.idle();

  // 1. the seed's experiment in small: 4 images targeted to image 2's map, 2 steps
  const voc = join(shared, 'fixtures', 'images', 'voc');
  const before = await page.evaluate(() => Number(document.body.dataset.segmentations));
  // the default image stays first; three more make the batch of 4
  await page.setInputFiles('#file', ['474.png', '23.png', '8.png'].map((f) => join(voc, f)));
  await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, before, { timeout: 600000 });
  await h.idle();
  assert.equal(await page.$$eval('#overview-rows .overview-row', (r) => r.length), 4, 'one overview row per image before the attack');
  await page.click('button[data-mode="targeted"]');
  await page.check('input[name=tkind][value=image]');
  await page.selectOption('#target-index', '1');
  await page.fill('#steps', '2');
  // watch the grid update live: count adversarial-map cells drawn while the run is busy
  await page.evaluate(() => {
    /** @type {any} */ (window).liveSeen = 0;
    new MutationObserver(() => {
      // a redraw during the run with adversarial maps of the current iterate drawn
      const drawn = document.querySelectorAll('#overview-rows figure:not(.empty) canvas[aria-label^="adversarial map (step"]').length;
      if (document.body.classList.contains('busy') && drawn === 4) /** @type {any} */ (window).liveSeen += 1;
    }).observe(document.getElementById('overview-rows'), { childList: true });
  });
  await page.click('#run');
  await page.waitForFunction(() => /** @type {any} */ (window).liveSeen >= 1, null, { timeout: 600000 });
  await page.locator('#overview').screenshot({ path: join(artifacts, 'teach-overview-live.png') });
  await h.idle();
  assert.equal(await h.banner(), null);
  const liveSeen = await page.evaluate(() => /** @type {any} */ (window).liveSeen);
  report('overview_live_updates', liveSeen);
  assert.ok(liveSeen >= 2, `the overview redraws the 4 adversarial maps per iterate while the attack runs (${liveSeen})`);
  const rows = await page.$$eval('#overview-rows .overview-row', (rs) => rs.map((r) => ({
    cells: [...r.querySelectorAll('figure')].map((f) => ({ caption: f.querySelector('figcaption')?.textContent, empty: f.classList.contains('empty'), w: f.querySelector('canvas')?.width })),
    agreement: r.querySelector('.agreement')?.getAttribute('data-value'),
    text: r.querySelector('.agreement')?.textContent,
  })));
  report('overview_rows', rows.map((r) => r.text));
  assert.equal(rows.length, 4);
  // the per-image table (the report's numbers): image, acc. vs clean, mIoU vs clean, agreement vs target, …
  const rep = await page.$$eval('#per-image tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  for (const [i, r] of rows.entries()) {
    const adv = r.cells.find((c) => c.caption === 'adversarial map');
    const target = r.cells.find((c) => c.caption === 'target map');
    assert.ok(adv && !adv.empty, `row ${i + 1}: the adversarial map is drawn ${JSON.stringify(r.cells)}`);
    assert.ok(target && !target.empty, `row ${i + 1}: the target map is drawn`);
    assert.match(r.text || '', /agreement with the target: \d+\.\d %/);
    // the same number as the per-image table (agreement vs target, 4 digits)
    assert.equal(Number(r.agreement).toFixed(4), rep[i][3], `row ${i + 1}: ${r.agreement} vs table ${rep[i][3]}`);
  }
  // image 2 is its own target: it agrees most
  assert.ok(Number(rows[1].agreement) >= Math.max(...rows.map((r) => Number(r.agreement))) - 1e-9, JSON.stringify(rows.map((r) => r.agreement)));
  await page.locator('#overview').screenshot({ path: join(artifacts, 'teach-overview-batch4.png') });
  // Enter on row 3 opens its detailed views
  await page.focus('#overview-rows .overview-row:nth-child(3)');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'views');
  assert.match(await page.getAttribute('#batch .thumb:nth-child(3)', 'class') || '', /selected/);
  await h.shot('overview-page');

  // 2. the ε sweep on image 1 alone, untargeted, 1 step, three radii, with multi-scale:
  //    undefended, defended, adaptive
  for (let k = 0; k < 3; k++) {
    const n = await page.evaluate(() => Number(document.body.dataset.segmentations));
    await page.click('#batch .thumb:last-child .remove');
    await page.waitForFunction((m) => Number(document.body.dataset.segmentations) > m, n, { timeout: 600000 });
    await h.idle();
  }
  assert.equal(await page.$$eval('#overview-rows .overview-row', (r) => r.length), 1);
  await page.click('button[data-mode="untargeted"]');
  await page.fill('#steps', '1');
  await page.check('#def-multiscale');
  await page.fill('#sweep-eps', '2, 4, 8');
  const ts = Date.now();
  await page.click('#sweep-run');
  await page.waitForFunction(() => document.body.classList.contains('busy')).catch(() => {});
  await h.idle();
  report('sweep_s', (Date.now() - ts) / 1000);
  assert.equal(await h.banner(), null);
  const table = await page.$$eval('#sweep-table tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  report('sweep_table', table);
  assert.equal(table.length, 4, 'a header and one row per ε');
  const [sj] = await Promise.all([page.waitForEvent('download'), page.click('#sweep-json')]);
  await sj.saveAs(join(artifacts, 'teach-sweep.json'));
  const sweep = JSON.parse(readFileSync(join(artifacts, 'teach-sweep.json'), 'utf8'));
  assert.deepEqual(sweep.points.map((/** @type {any} */ p) => p.eps), [2, 4, 8]);
  assert.match(sweep.reference, /clean map/);
  const keys = ['undefended', 'defended', 'adaptive'];
  assert.deepEqual(table[0], ['ε (/255)', ...keys.flatMap((k) => {
    const t = k === 'undefended' ? 'undefended' : k === 'defended' ? 'defended, non-adaptive' : 'defended, adaptive';
    return [`${t}: mIoU`, `${t}: pixel acc.`];
  })]);
  for (const [i, p] of sweep.points.entries()) {
    const want = [String(p.eps), ...keys.flatMap((k) => [p[k].miou.toFixed(4), p[k].pixel_accuracy.toFixed(4)])];
    assert.deepEqual(table[i + 1], want, `row ${i + 1} of the table = the JSON`);
  }
  // the undefended mIoU vs the clean map drops as ε grows (1 step of APGD: at least not up by much)
  assert.ok(sweep.points[0].undefended.miou < 1, JSON.stringify(sweep.points[0]));
  const [sc] = await Promise.all([page.waitForEvent('download'), page.click('#sweep-csv')]);
  await sc.saveAs(join(artifacts, 'teach-sweep.csv'));
  const csv = readFileSync(join(artifacts, 'teach-sweep.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 3 * 3, csv.join('\n'));
  const [sp] = await Promise.all([page.waitForEvent('download'), page.click('#sweep-png')]);
  await sp.saveAs(join(artifacts, 'teach-sweep-plot.png'));
  assert.equal(readFileSync(join(artifacts, 'teach-sweep-plot.png')).readUInt32BE(16), 640, 'the plot as PNG');
  await page.locator('#sweep').screenshot({ path: join(artifacts, 'teach-sweep.png') });
  await page.uncheck('#def-multiscale');

  // 3. the lessons: open, run each "try it" (1 step each: ?steps=1), no error banner
  await page.click('#lessons-toggle');
  assert.ok(await page.isVisible('#lessons'));
  assert.equal(await page.$$eval('#lesson-steps li', (l) => l.length), 6);
  for (let i = 0; i < 6; i++) {
    await page.click(`#lesson-steps li:nth-child(${i + 1}) button`);
    const tl = Date.now();
    await page.click('#lesson-try');
    await page.waitForFunction((k) => document.body.dataset.lessonRun === `${k}:done` || document.body.dataset.lessonRun === `${k}:error`, i, { timeout: 600000 });
    await h.idle();
    const state = await page.evaluate(() => document.body.dataset.lessonRun);
    report(`lesson_${i + 1}`, { state, seconds: (Date.now() - tl) / 1000, stage: await page.textContent('#stage') });
    assert.equal(await h.banner(), null, `lesson ${i + 1}`);
    assert.equal(state, `${i}:done`);
    if (i === 2) assert.equal(await page.$$eval('#overview-rows .overview-row', (r) => r.length), 4, 'lesson 3: a batch of 4');
    if (i === 4) assert.equal((await page.$$eval('#sweep-table tbody tr', (r) => r.length)), 2, 'lesson 5: the sweep at 2 radii');
    await page.evaluate(() => window.scrollTo(0, 0));
    await h.shot(`lesson-${i + 1}`);
  }
  // progress is kept: all six ticked after a reload, the panel still open
  await page.reload();
  await h.loaded();
  assert.equal(await page.$$eval('#lesson-steps button', (b) => b.filter((e) => e.textContent?.startsWith('✓')).length), 6);
  await page.click('#lesson-close');
  assert.ok(await page.isHidden('#lessons'), 'free mode is one click away');
  await h.idle();

  // 4. small screen: 375 px wide, nothing scrolls sideways
  const small = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 1 });
  const sp2 = await small.newPage();
  await sp2.goto(`${url}?backend=cpu&model=${MODEL}`);
  await helpers(sp2).loaded();
  await helpers(sp2).idle();
  const overflow = await sp2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  report('small_screen_overflow_px', overflow);
  await sp2.screenshot({ path: join(artifacts, 'teach-small-375.png'), fullPage: true });
  assert.ok(overflow <= 0, `the page fits 375 px (${overflow} px too wide)`);
  // the lessons at 375 px, reached by keyboard: Tab from the top lands on the Lessons button
  await sp2.keyboard.press('Tab');
  assert.equal(await sp2.evaluate(() => document.activeElement && document.activeElement.id), 'lessons-toggle');
  await sp2.keyboard.press('Enter');
  assert.ok(await sp2.isVisible('#lessons'));
  assert.ok(await sp2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0, 'the lessons fit 375 px');
  await sp2.screenshot({ path: join(artifacts, 'teach-small-375-lessons.png') });
  await small.close();

  // 5. dist/ on a plain static server (no COOP/COEP): load, upload, attack, download
  execFileSync(join(root, 'scripts', 'build_site.sh'), ['--no-build', '--out', join(root, 'dist')], { stdio: 'inherit' });
  const plain = await servePlain(join(root, 'dist'));
  plainProc = plain.proc;
  const dctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  const d = await dctx.newPage();
  d.on('pageerror', (e) => console.log(`[dist page exception] ${e.message}`));
  const dh = helpers(d);
  await d.goto(`${plain.url}?backend=cpu&model=${MODEL}`);
  await dh.loaded();
  await dh.idle();
  assert.equal(await d.evaluate(() => globalThis.crossOriginIsolated), false, 'a plain host is not cross-origin isolated');
  const b0 = await d.evaluate(() => Number(document.body.dataset.segmentations));
  await d.setInputFiles('#file', join(voc, '8.png'));
  await d.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, b0, { timeout: 600000 });
  await dh.idle();
  await d.fill('#steps', '1');
  await d.click('#run');
  await d.waitForFunction(() => document.body.dataset.stepsPerSecond, null, { timeout: 600000 });
  await dh.idle();
  assert.equal(await dh.banner(), null);
  const [dl] = await Promise.all([d.waitForEvent('download'), d.click('#dl-png')]);
  await dl.saveAs(join(artifacts, 'teach-dist-adversarial.png'));
  assert.deepEqual([...readFileSync(join(artifacts, 'teach-dist-adversarial.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  await d.screenshot({ path: join(artifacts, 'teach-dist.png'), fullPage: true });
  // what degrades without COOP/COEP: a CPU run is cancelled by replacing the worker; the page goes on
  await d.fill('#steps', '200');
  await d.click('#run');
  await d.waitForFunction(() => /step [1-9]/.test(document.getElementById('stage').textContent || ''), null, { timeout: 600000 });
  const tc = Date.now();
  await d.click('#cancel');
  await d.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: 600000 });
  report('dist_cancel_latency_s', (Date.now() - tc) / 1000);
  assert.match(await d.textContent('#stage') || '', /cancel/);
  assert.equal(await dh.banner(), null, 'a cancel is not an error');
  await d.fill('#steps', '1');
  await dh.idle();
  await d.click('#run');
  await d.waitForFunction(() => document.body.classList.contains('busy')).catch(() => {});
  await dh.idle();
  assert.equal(await dh.banner(), null, 'the page attacks again after the cancel');
  await dctx.close();
  report('teach_e2e_s', (Date.now() - t0) / 1000);
  console.log('teach e2e: all checks passed');
} catch (err) {
  failed = true;
  console.error('teach e2e: FAILED', err);
} finally {
  await browser.close();
  proc.kill();
  if (plainProc) plainProc.kill();
}
process.exit(failed ? 1 : 0);
