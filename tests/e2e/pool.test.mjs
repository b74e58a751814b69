// End-to-end test of the page's worker pool (www/pool.js) on the CPU backend: the same batch
// of 4 attacked with a pool of 1 worker and of 4 workers (forced with ?workers=N) must give the
// same maps, images and metrics — split by images (APGD) or by runs (PGD with restarts; SEA,
// whose mIoU worst case is chosen over the whole batch, on four images and on one). Compared exactly: every map and image (SHA-256 of the bytes),
// the whole report except `seconds`, `backend` and the history's loss (a mean over the batch's
// valid pixels that the pool averages from its parts: equal up to rounding, checked to 1e-6
// relative), and the live progress (per iterate: step, per-image agreements, map digests; split
// by runs, the pool shows the first runs' iterates only: a prefix of one worker's).
// Then the page itself with 4 workers: a batch of 4 uploaded and attacked through the form
// (screenshot), an attack that cannot be split (PGD) says why it ran on one worker, and cancel
// reaches every worker. Last, the 'auto' device calibration (www/calibrate.js) with the software
// WebGPU adapter made a candidate by the test hook ?calibrate=software: it picks the CPU and says
// why; without the hook no calibration runs. Every attack must change the maps it attacks (the
// pool could agree with one worker on an attack that did nothing); an uncaught page error fails
// the script.
//
// Usage: node tests/e2e/pool.test.mjs   (after scripts/web_build.sh; env CHROMIUM, E2E_POOL_MODEL)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { artifacts, checkSeen, helpers, launch, report, serve, shared, watch } from './lib.mjs';

const model = process.env.E2E_POOL_MODEL || 'espnetv2-voc-s0.5';

const files = ['0.png', '1.png', '20.png', '114.png'].map((f) => join(shared, 'fixtures', 'images', 'voc', f));
const b64 = files.map((f) => readFileSync(f).toString('base64'));

/** The attacks compared: APGD untargeted and targeted-image from random starts (L∞ and L2), SEA targeted-class (by runs). */
const attacks = {
  untargeted: { kind: 'apgd', goal: 'untargeted', eps: '8/255', steps: 2, random_start: true, seed: 7 },
  targeted_image: { kind: 'apgd', goal: 'targeted-image', target_index: 2, eps: '8/255', steps: 2, random_start: true, seed: 3 },
  untargeted_l2: { kind: 'apgd', goal: 'untargeted', norm: 'l2', eps: '1', steps: 2, random_start: true, seed: 5 },
  sea_targeted_class: { kind: 'sea', goal: 'targeted-class', target_class: 15, eps: '8/255', steps: 2, random_start: true, seed: 9 },
  // split by runs: SEA's three losses (above), PGD (batch-mean loss) with restarts on the 4 images, SEA on one image
  pgd_restarts: { kind: 'pgd', goal: 'untargeted', eps: '8/255', steps: 2, restarts: 3, seed: 4 },
  sea_one_image: { kind: 'sea', goal: 'untargeted', eps: '8/255', steps: 2, images: 1 },
};
/** How many workers each attack runs on in the pool of 4. */
const expectedWorkers = { untargeted: 4, targeted_image: 4, untargeted_l2: 4, sea_targeted_class: 3, pgd_restarts: 3, sea_one_image: 3 };

const { proc, url } = await serve();
const browser = await launch(['--enable-unsafe-webgpu']);
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  watch(context, new URL(url).origin);
  const page = await context.newPage();
  const h = helpers(page, 'pool-');
  const idle = h.idle;
  const open = async (/** @type {number} */ workers) => {
    await page.goto(`${url}?backend=cpu&workers=${workers}&model=${model}`);
    await page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 900000 });
    await idle();
  };

  /** Segment and attack the 4 images through the page's pool (api), as digests. @param {any} options */
  const attackIn = ({ images: count = 4, ...options }) => page.evaluate(async ([b64, options]) => {
    const { api } = await import('./state.js');
    const hex = async (/** @type {Uint8Array} */ u) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', u))].map((b) => b.toString(16).padStart(2, '0')).join('');
    const all = async (/** @type {Uint8Array[]} */ us) => Promise.all(us.map(hex));
    const images = b64.map((s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));
    const bmp = await createImageBitmap(new Blob([images[0]]));
    const [width, height] = await api.call('inputSize', { width: bmp.width, height: bmp.height, maxSide: 192 });
    const seg = await api.call('segment', { images: images.map((b) => b.slice()), width, height });
    /** @type {any[]} */ const live = [];
    const t0 = performance.now();
    const r = await api.call('attack', { images: images.map((b) => b.slice()), width, height, options, targetMap: null }, async (/** @type {any} */ p) => {
      if (p.stage === 'attack') live.push({ step: p.step, agreements: p.agreements, maps: p.maps });
    });
    const ms = performance.now() - t0;
    const liveOut = [];
    for (const l of live) liveOut.push({ step: l.step, agreements: l.agreements, maps: await all(l.maps) });
    return {
      workers: api.workers.length, split: api.lastSplit, ms, size: [width, height],
      segment: await all(seg.maps), report: r.report, live: liveOut,
      maps: { images: await all(r.images), adversarial: await all(r.adversarial), pngs: await all(r.pngs), clean: await all(r.clean_maps),
        adversarial_maps: await all(r.adversarial_maps), reference: await all(r.reference_maps) },
    };
  }, /** @type {const} */ ([b64.slice(0, count), options]));

  /** @type {Record<number, Record<string, any>>} */
  const results = { 1: {}, 4: {} };
  for (const workers of [1, 4]) {
    await open(workers);
    for (const [name, options] of Object.entries(attacks)) {
      const r = await attackIn(options);
      assert.equal(r.workers, workers, `${name}: the pool has ${r.workers} workers`);
      assert.equal(r.split.workers, workers === 1 ? 1 : expectedWorkers[/** @type {keyof typeof expectedWorkers} */ (name)], `${name}: ran on ${JSON.stringify(r.split)}`);
      report(`${name}_workers${workers}`, { ms: Math.round(r.ms), size: r.size, steps: r.report.steps_run, split: r.split, seconds: r.report.seconds });
      // the attack did something: some adversarial maps differ from the clean ones, and the
      // pooled agreement with the clean map (untargeted) or the target (targeted) moved its way
      const changedMaps = r.maps.adversarial_maps.filter((/** @type {string} */ m, /** @type {number} */ k) => m !== r.maps.clean[k]).length;
      const q = r.report.overall.quantized;
      const moved = r.report.targeted ? q.vs_target.agreement > r.report.overall.clean.vs_target.agreement : q.vs_clean.pixel_accuracy < 1;
      assert.ok(changedMaps > 0 && moved, `${name} on ${workers} worker(s) changes the maps: ${changedMaps} changed, ${JSON.stringify(q.vs_clean)}`);
      results[workers][name] = r;
    }
  }
  for (const name of Object.keys(attacks)) {
    const [a, b] = [results[1][name], results[4][name]];
    assert.deepEqual(b.segment, a.segment, `${name}: segment maps`);
    assert.deepEqual(b.maps, a.maps, `${name}: maps and images`);
    // split by runs, the live view follows the worker with the first run: a prefix of one worker's
    const byRuns = name === 'pgd_restarts' || name.startsWith('sea_');
    assert.ok(b.live.length > 0 && (byRuns ? b.live.length < a.live.length : b.live.length === a.live.length), `${name}: ${b.live.length} vs ${a.live.length} iterates shown`);
    assert.deepEqual(b.live, a.live.slice(0, b.live.length), `${name}: live progress (steps, agreements, maps)`);
    const strip = (/** @type {any} */ rep) => ({ ...rep, seconds: 0, backend: '', history: rep.history.map((/** @type {any} */ h) => ({ ...h, loss: 0 })) });
    assert.deepEqual(strip(b.report), strip(a.report), `${name}: report`);
    const losses = a.report.history.map((/** @type {any} */ h, /** @type {number} */ i) => [h.loss, b.report.history[i].loss]);
    for (const [la, lb] of losses) assert.ok(Math.abs(la - lb) <= 1e-6 * Math.max(1, Math.abs(la)), `${name}: history loss ${la} vs ${lb}`);
    const exact = losses.filter(([la, lb]) => la === lb).length;
    report(`${name}_equal`, { maps: true, report: true, live_iterates: a.live.length, history_losses_bit_equal: `${exact}/${losses.length}`,
      max_loss_diff: Math.max(...losses.map(([la, lb]) => Math.abs(la - lb))), quantized_miou: a.report.overall.quantized.vs_clean.miou });
  }

  // the page with 4 workers: an attack that cannot be split runs on one worker and says why
  await open(4);
  assert.match(await page.textContent('#gpu-note') || '', /4 workers/);
  const pgd = await attackIn({ kind: 'pgd', steps: 1 });
  assert.equal(pgd.split.workers, 1);
  assert.match(pgd.split.why, /PGD/);
  assert.equal((await attackIn({ kind: 'apgd', steps: 1, images: 1 })).split.workers, 1, 'one image, one run: one worker');
  report('pgd_split', pgd.split);

  // the form: a batch of 4 uploaded and attacked (2 steps) through the pool
  const before = Number(await page.evaluate(() => document.body.dataset.segmentations));
  await page.setInputFiles('#file', files.slice(1));
  await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, before, { timeout: 900000 });
  await idle();
  await page.click('#advanced summary');
  await page.selectOption('#max-side', '256');
  await idle();
  assert.equal(await page.$$eval('#batch .thumb', (t) => t.length), 4);
  await page.fill('#steps', '2');
  await h.run();
  const stage = await page.textContent('#stage') || '';
  report('form_stage', stage);
  assert.match(stage, /4 workers/);
  assert.equal(await page.evaluate(() => document.body.dataset.attackWorkers), '4');
  await page.screenshot({ path: join(artifacts, 'pool-01-batch-of-4.png'), fullPage: true });

  // cancel reaches every worker: a long run stops, and the page runs again afterwards
  await page.fill('#steps', '200');
  let tc = 0;
  await h.runBy(async () => {
    await page.click('#run');
    await page.waitForFunction(() => /step [1-9]/.test(document.getElementById('stage')?.textContent || ''), null, { timeout: 900000 });
    tc = Date.now();
    await page.click('#cancel');
  }, 'cancelled');
  await idle();
  report('cancel_s', (Date.now() - tc) / 1000);
  const busy = await page.evaluate(async () => {
    const { api } = await import('./state.js');
    return api.workers.map((w) => w.pending.size);
  });
  assert.deepEqual(busy, [0, 0, 0, 0], 'no worker has a call left after the cancel');
  await page.fill('#steps', '1');
  await h.run();
  assert.match(await page.textContent('#stage') || '', /1 steps in .*4 workers/);
  await page.screenshot({ path: join(artifacts, 'pool-02-after-cancel.png'), fullPage: true });

  // 'auto' with the software adapter made a candidate (test hook ?calibrate=software): one
  // forward on each device, the CPU is faster here and the page says so
  const loaded = async (/** @type {string} */ query) => {
    await page.goto(`${url}?${query}`);
    await page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 900000 });
    await idle();
    return { badge: await page.textContent('#backend'), note: await page.textContent('#gpu-note'), calibration: await page.evaluate(() => document.body.dataset.calibration) };
  };
  const cal = await loaded('backend=auto&calibrate=software&model=deeplabv3-mnv2-voc');
  report('calibration', cal);
  assert.ok(cal.calibration, 'the page calibrated');
  const c = JSON.parse(cal.calibration || '{}');
  assert.equal(c.backend, 'cpu');
  assert.ok(c.cpu_ms > 0 && c.webgpu_ms > c.cpu_ms, JSON.stringify(c));
  assert.match(c.adapter, /software/);
  assert.match(cal.badge || '', /CPU/);
  assert.match(cal.note || '', /auto chose the CPU: one forward pass at 257×257 takes \d+ ms on the CPU/);
  await page.screenshot({ path: join(artifacts, 'pool-03-calibration.png') });
  // without the hook a software adapter is no candidate: no calibration, the CPU
  const plain = await loaded('backend=auto&model=deeplabv3-mnv2-voc');
  assert.equal(plain.calibration, '');
  assert.match(plain.badge || '', /CPU/);
  checkSeen();
  console.log('pool e2e: all checks passed');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  proc.kill();
}
process.exit(failed ? 1 : 0);
