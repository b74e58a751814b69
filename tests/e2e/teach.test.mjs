// End-to-end test of the teaching views (www/grid.js, www/sweep.js, www/lessons.js) and of the
// deployable site (scripts/build_site.sh): playwright-core drives Debian's Chromium on the CPU
// backend with the small ESPNetv2 (s = 0.5) at a 256-pixel working size and 1–2 steps.
//   1. a batch of 4 targeted to image 2's map: 4 overview rows, adversarial maps drawn live, the
//      agreement with the target listed per row (the report's numbers) and risen over each
//      image's clean agreement; Enter opens a row;
//   2. the ε sweep: one point per ε, the undefended mIoU falling as ε grows, its JSON download
//      equals the page's table, CSV and PNG;
//   3. every lesson's "try it": the effect its text promises happens, the numbers it shows are
//      its own run's (lesson_checks.mjs), and its text and "next" stay in view beside the result;
//   4. the page and the lessons at 375 px (screenshots; nothing wider than the screen);
//   5. dist/ from scripts/build_site.sh --no-build: on a plain static server (no COOP/COEP, no
//      CSP header) load, upload, attack, download, cancel; on scripts/web_serve.py --root dist
//      the pre-compressed wasm and weights are served with their encoding.
// Each run is identified and checked (lib.mjs); an uncaught page error fails the script.
// Screenshots land in tests/e2e/artifacts/teach-*.png.
//
// Usage: node tests/e2e/teach.test.mjs   (after scripts/web_build.sh; env CHROMIUM)
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { artifacts, checkSeen, helpers as baseHelpers, launch, report, root, serve, shared, watch } from './lib.mjs';
import { checkLesson } from './lesson_checks.mjs';

const MODEL = 'espnetv2-voc-s0.5';
/** Gradient steps of every lesson's try-it here (?steps=N): enough for the effects their texts promise. */
const LESSON_STEPS = 2;

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

const { proc, url } = await serve();
const origin = new URL(url).origin;
const browser = await launch();
/** @type {import('node:child_process').ChildProcess | null} */
let plainProc = null;
let failed = false;

/** Helpers bound to a page (lib.mjs's, screenshots named teach-*). @param {import('playwright-core').Page} page */
const helpers = (page) => baseHelpers(page, 'teach-');

try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  watch(context, origin);
  const page = await context.newPage();
  const h = helpers(page);
  const t0 = Date.now();
  await page.goto(`${url}?backend=cpu&model=${MODEL}&steps=${LESSON_STEPS}`);
  await h.loaded();
  await h.idle();
  await page.click('#advanced summary');
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
  await h.runBy(async () => {
    await page.click('#run');
    await page.waitForFunction(() => /** @type {any} */ (window).liveSeen >= 1, null, { timeout: 600000 });
    await page.locator('#overview').screenshot({ path: join(artifacts, 'teach-overview-live.png') });
  });
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
  // the per-image table (the report's numbers): image, pixels with their clean class, mIoU vs clean, agreement with the target, …
  const rep = await page.$$eval('#per-image tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  const cleanAgreement = await page.evaluate(async () => (/** @type {any} */ (await import('./state.js')).state.result.report.images.map((/** @type {any} */ im) => im.clean.vs_target.agreement)));
  for (const [i, r] of rows.entries()) {
    const adv = r.cells.find((c) => c.caption === 'adversarial map');
    const target = r.cells.find((c) => c.caption === 'target map');
    assert.ok(adv && !adv.empty, `row ${i + 1}: the adversarial map is drawn ${JSON.stringify(r.cells)}`);
    assert.ok(target && !target.empty, `row ${i + 1}: the target map is drawn`);
    assert.match(r.text || '', /agreement with the target: \d+\.\d %/);
    // the same number as the per-image table (agreement with the target, 4 digits)
    assert.equal(Number(r.agreement).toFixed(4), rep[i][3], `row ${i + 1}: ${r.agreement} vs table ${rep[i][3]}`);
    // the attack moves every other image towards image 2's map; image 2 is its own target
    if (i === 1) assert.equal(cleanAgreement[i], 1, 'image 2 agrees with its own map');
    else assert.ok(Number(r.agreement) > cleanAgreement[i], `row ${i + 1}: agreement ${r.agreement} rises over the clean map's ${cleanAgreement[i]}`);
  }
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
  await h.runBy(() => page.click('#sweep-run'));
  report('sweep_s', (Date.now() - ts) / 1000);
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
  // the undefended mIoU vs the clean map falls as ε grows (2 → 8/255), and is below 1 at the smallest
  const miou = sweep.points.map((/** @type {any} */ p) => p.undefended.miou);
  assert.ok(miou[0] < 1 && miou[2] < miou[0], `mIoU falls as ε grows: ${JSON.stringify(miou)}`);
  const [sc] = await Promise.all([page.waitForEvent('download'), page.click('#sweep-csv')]);
  await sc.saveAs(join(artifacts, 'teach-sweep.csv'));
  const csv = readFileSync(join(artifacts, 'teach-sweep.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 3 * 3, csv.join('\n'));
  const [sp] = await Promise.all([page.waitForEvent('download'), page.click('#sweep-png')]);
  await sp.saveAs(join(artifacts, 'teach-sweep-plot.png'));
  assert.equal(readFileSync(join(artifacts, 'teach-sweep-plot.png')).readUInt32BE(16), 640, 'the plot as PNG');
  await page.locator('#sweep').screenshot({ path: join(artifacts, 'teach-sweep.png') });
  await page.uncheck('#def-multiscale');

  // 3. the lessons: open, run each "try it" (?steps=2): its promised effect, its own numbers,
  //    its text and "next" in view beside the result
  await page.click('#lessons-toggle');
  assert.ok(await page.isVisible('#lessons'));
  assert.equal(await page.$$eval('#lesson-steps li', (l) => l.length), 6);
  for (let i = 0; i < 6; i++) {
    await page.click(`#lesson-steps li:nth-child(${i + 1}) button`);
    const tl = Date.now();
    await h.runBy(() => page.click('#lesson-try'));
    const state = await page.evaluate(() => document.body.dataset.lessonRun);
    assert.equal(state, `${i}:done`);
    const checked = await checkLesson(page, i);
    report(`lesson_${i + 1}`, { seconds: (Date.now() - tl) / 1000, stage: await page.textContent('#stage'), ...checked });
    if (i === 2) assert.equal(await page.$$eval('#overview-rows .overview-row', (r) => r.length), 4, 'lesson 3: a batch of 4');
    if (i === 4) assert.equal((await page.$$eval('#sweep-table tbody tr', (r) => r.length)), 2, 'lesson 5: the sweep at 2 radii');
    await h.shot(`lesson-${i + 1}`, false);
  }
  // progress is kept: all six ticked after a reload, the panel still open
  await page.reload();
  await h.loaded();
  assert.equal(await page.$$eval('#lesson-steps button', (b) => b.filter((e) => e.textContent?.startsWith('✓')).length), 6);
  await page.click('#lesson-close');
  assert.ok(await page.isHidden('#lessons'), 'free mode is one click away');
  await h.idle();
  checkSeen();

  // 4. small screen: 375 px wide, nothing scrolls sideways; the lessons as a sheet at the bottom
  const small = await browser.newContext({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 1 });
  watch(small, origin, 'small page');
  const sp2 = await small.newPage();
  await sp2.goto(`${url}?backend=cpu&model=${MODEL}`);
  await helpers(sp2).loaded();
  await helpers(sp2).idle();
  const overflow = await sp2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  report('small_screen_overflow_px', overflow);
  await sp2.screenshot({ path: join(artifacts, 'teach-small-375.png'), fullPage: true });
  assert.ok(overflow <= 0, `the page fits 375 px (${overflow} px too wide)`);
  // the robustness curve's text stays readable: the plot is drawn at its displayed size
  const plotW = await sp2.$eval('#sweep-chart', (c) => [/** @type {HTMLCanvasElement} */ (c).width, c.clientWidth]);
  assert.equal(plotW[0], plotW[1], `the plot is drawn at its displayed width (no shrunk text): ${plotW}`);
  // the lessons at 375 px, reached by keyboard: Tab from the top lands on the Lessons button
  await sp2.keyboard.press('Tab');
  assert.equal(await sp2.evaluate(() => document.activeElement && document.activeElement.id), 'lessons-toggle');
  await sp2.keyboard.press('Enter');
  assert.ok(await sp2.isVisible('#lessons'));
  assert.ok(await sp2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0, 'the lessons fit 375 px');
  await sp2.screenshot({ path: join(artifacts, 'teach-small-375-lessons.png') });
  await small.close();

  // 5. dist/ on a plain static server (no COOP/COEP): load, upload, attack, download
  execFileSync(join(root, 'scripts', 'build_site.sh'), ['--no-build', '--out', join(root, 'dist')], { stdio: 'inherit', env: { ...process.env, ADVSEG_BROTLI_QUALITY: '5' } });
  const plain = await servePlain(join(root, 'dist'));
  plainProc = plain.proc;
  const dctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  watch(dctx, plain.url.replace(/\/$/, ''), 'dist page');
  const d = await dctx.newPage();
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
  await dh.run();
  const [dl] = await Promise.all([d.waitForEvent('download'), d.click('#dl-png')]);
  await dl.saveAs(join(artifacts, 'teach-dist-adversarial.png'));
  assert.deepEqual([...readFileSync(join(artifacts, 'teach-dist-adversarial.png')).subarray(1, 4)], [0x50, 0x4e, 0x47]);
  await d.screenshot({ path: join(artifacts, 'teach-dist.png'), fullPage: true });
  // what degrades without COOP/COEP: a CPU run is cancelled by replacing the worker; the page goes on
  await d.fill('#steps', '200');
  const cancelled = dh.runBy(async () => {
    await d.click('#run');
    await d.waitForFunction(() => /step [1-9]/.test(document.getElementById('stage').textContent || ''), null, { timeout: 600000 });
    await d.click('#cancel');
  }, 'cancelled');
  const tc = Date.now();
  await cancelled;
  report('dist_cancel_latency_s', (Date.now() - tc) / 1000);
  assert.match(await d.textContent('#stage') || '', /cancel/);
  await d.fill('#steps', '1');
  await dh.idle();
  await dh.run();
  await dctx.close();
  // the same dist/ on scripts/web_serve.py: the pre-compressed siblings go out with their encoding
  const { proc: dproc, url: durl } = await serve(['--root', join(root, 'dist')]);
  try {
    const enc = [];
    for (const f of ['pkg/advseg_bg.wasm', 'weights/espnetv2_s_0.5_pascal_384x384.safetensors', 'main.js']) {
      const r = await fetch(durl + f, { headers: { 'Accept-Encoding': 'gzip' } });
      const body = await r.arrayBuffer();
      enc.push({ f, status: r.status, type: r.headers.get('content-type'), encoding: r.headers.get('content-encoding'), decoded: body.byteLength });
    }
    report('dist_compressed', enc);
    for (const e of enc) assert.ok(e.status === 200 && e.encoding === 'gzip', `${e.f} is served gzip-encoded: ${JSON.stringify(e)}`);
    assert.equal(enc[0].type, 'application/wasm');
  } finally {
    dproc.kill();
  }
  checkSeen();
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
