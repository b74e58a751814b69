// End-to-end test of the browser demo (www/): playwright-core drives Debian's Chromium against
// scripts/web_serve.py. Loads the page, uploads an image, runs every mode with few steps,
// checks that maps and metrics appear (the scaler menu comes from the wasm API; a scaling attack
// to the painted map) and that the downloads work, cancels a run, feeds a
// corrupt file and checks the error banner (the page keeps working), reloads offline. Saves
// screenshots and the downloads to tests/e2e/artifacts/ and prints timings as JSON lines.
//
// Usage: node tests/e2e/page.test.mjs   (after scripts/web_build.sh; env CHROMIUM, E2E_BACKEND)
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const artifacts = join(here, 'artifacts');
const shared = process.env.ADVSEG_SHARED || join(root, '..', 'shared');
const backend = process.env.E2E_BACKEND || 'auto';
mkdirSync(artifacts, { recursive: true });

/** @param {string} what @param {any} value */
const report = (what, value) => console.log(JSON.stringify({ [what]: value }));

function serve() {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [join(root, 'scripts', 'web_serve.py'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.stdout.once('data', (d) => resolve({ proc: p, url: String(d).trim() }));
    p.once('exit', (code) => reject(new Error(`web_serve.py exited with ${code}`)));
  });
}

const { proc, url } = /** @type {{proc: import('node:child_process').ChildProcess, url: string}} */ (await serve());
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', '--disable-dev-shm-usage', '--enable-unsafe-webgpu'],
});
let failed = false;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1500, height: 1000 } });
  const page = await context.newPage();
  const origin = new URL(url).origin;
  /** @type {string[]} */ const foreign = [];
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u);
  });
  page.on('console', (m) => { if (m.type() === 'error') console.log(`[page error] ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`[page exception] ${e.message}`));

  const shot = async (/** @type {string} */ name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const stage = () => page.textContent('#stage');
  const bannerShown = () => page.isVisible('#banner');
  const idle = () => page.waitForFunction(() => !document.body.classList.contains('busy') && !document.getElementById('run').disabled, null, { timeout: 600000 });
  const metricRows = () => page.$$eval('#metrics tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  const nonEmpty = (/** @type {string} */ v) => page.$eval(`figure[data-view="${v}"]`, (f) => !f.classList.contains('empty'));

  // 1. load: the default model and sample image, segmented at once
  const t0 = Date.now();
  await page.goto(`${url}?backend=${backend}`);
  await page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
  await idle();
  report('time_to_first_segmentation_s', (Date.now() - t0) / 1000);
  report('time_to_first_segmentation_in_page_s', Number(await page.evaluate(() => document.body.dataset.firstSegmentationMs)) / 1000);
  const badge = await page.textContent('#backend');
  report('backend', badge);
  assert.ok(badge && badge !== 'starting…', `backend badge: ${badge}`);
  // auto takes the CPU here: headless Chromium's only WebGPU adapter is software (SwiftShader)
  if (backend === 'webgpu') assert.match(badge, /WebGPU/); else assert.match(badge, /CPU/);
  assert.ok(await nonEmpty('clean'), 'the clean map is drawn');
  assert.ok((await page.textContent('#size-info'))?.includes('Working size'), 'the working size is stated');
  assert.equal(await page.$$eval('#legend .chip', (c) => c.length), 21, 'VOC legend');
  // the scaler menu comes from the wasm API's list (ScalerKind::ALL), its default selected
  const scalers = await page.$$eval('#scaler option', (o) => o.map((e) => /** @type {HTMLOptionElement} */ (e).value));
  assert.equal(scalers.length, 10, JSON.stringify(scalers));
  assert.ok(scalers[0] === 'opencv-nearest' && scalers.includes('pillow-lanczos'), JSON.stringify(scalers));
  assert.equal(await page.inputValue('#scaler'), 'opencv-linear');
  await shot('01-loaded');

  // 2. upload a second image with the file picker
  const segmentations = () => page.evaluate(() => Number(document.body.dataset.segmentations));
  const before = await segmentations();
  await page.setInputFiles('#file', join(shared, 'fixtures', 'images', 'voc', '8.png'));
  await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, before, { timeout: 600000 });
  await idle();
  assert.equal(await page.$$eval('#batch .thumb', (t) => t.length), 2);
  assert.match(await stage() || '', /segmented 2 image/);

  const setSteps = async (/** @type {number} */ n) => page.fill('#steps', String(n));
  const run = async () => { await page.click('#run'); await page.waitForFunction(() => document.body.classList.contains('busy')).catch(() => {}); await idle(); };

  // 3. untargeted, 2 steps: maps, metrics, chart, downloads
  await setSteps(2);
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  const sps = Number(await page.evaluate(() => document.body.dataset.stepsPerSecond));
  report('untargeted_2_steps_stage', await stage());
  report('pgd_steps_per_second_batch2', sps);
  for (const v of ['adversarial', 'perturbation', 'adversarial-map', 'overlay']) assert.ok(await nonEmpty(v), `${v} view drawn`);
  let rows = await metricRows();
  assert.ok(rows.some((r) => r[0] === 'adversarial vs clean' && Number(r[3]) < 1), `metrics: ${JSON.stringify(rows)}`);
  assert.ok(rows.some((r) => r[0] === 'batch (8-bit)' && /\/255/.test(r[1]) && /dB/.test(r[3])), JSON.stringify(rows));
  assert.match(await page.textContent('figure[data-view="perturbation"] figcaption') || '', /×\d+/);
  await page.hover('figure[data-view="clean"] canvas');
  assert.match(await page.textContent('#hover') || '', /clean: \w+ · adversarial: \w+/);
  await shot('02-untargeted');
  const [png] = await Promise.all([page.waitForEvent('download'), page.click('#dl-png')]);
  const pngPath = join(artifacts, 'adversarial-1.png');
  await png.saveAs(pngPath);
  const pngBytes = readFileSync(pngPath);
  assert.deepEqual([...pngBytes.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  assert.equal(pngBytes.readUInt32BE(16), 384, 'PNG width = working width');
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#dl-json')]);
  const jsonPath = join(artifacts, 'report-untargeted.json');
  await json.saveAs(jsonPath);
  const rep = JSON.parse(readFileSync(jsonPath, 'utf8'));
  // the page's JSON report is the core's AttackReport, as the CLI's report.json
  assert.equal(rep.schema, 'advseg.attack/2');
  assert.equal(rep.spec.goal, 'untargeted');
  assert.equal(rep.history.length, 3);
  const linf = rep.overall.quantized.linf;
  assert.ok(linf <= 8.5 / 255 && linf > 0, `L∞ ${linf}`);
  // the attack menu comes from the wasm API (AttackKind::ALL), APGD the default
  const kinds = await page.$$eval('#kind option', (o) => o.map((e) => /** @type {HTMLOptionElement} */ (e).value));
  assert.ok(kinds[0] === 'apgd' && kinds.includes('pgd') && kinds.includes('sea'), JSON.stringify(kinds));
  assert.equal(rep.spec.kind, 'apgd');
  // the per-image table: one row per image of the batch
  assert.equal(await page.$$eval('#per-image tbody tr', (r) => r.length), 2);

  // 3a. SEA (APGD with masked CE, balanced CE and JS), 1 step each: the per-image table names the winning loss
  await page.selectOption('#kind', 'sea');
  assert.ok(await page.isHidden('#loss-opt'), 'SEA runs its own losses: no loss menu');
  await setSteps(1);
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  const seaHead = await page.$$eval('#per-image thead th', (t) => t.map((e) => e.textContent));
  const seaRows = await page.$$eval('#per-image tbody tr', (r) => r.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  report('sea_per_image', { head: seaHead, rows: seaRows, stage: await stage() });
  assert.ok(seaHead.includes('winning loss'), JSON.stringify(seaHead));
  assert.equal(seaRows.length, 2);
  // a VOC model: SEA's balanced loss has its authors' fixed class weights
  assert.ok(seaRows.every((r) => ['masked-ce', 'balanced-ce-voc', 'js'].includes(r[r.length - 1] || '')), JSON.stringify(seaRows));
  await page.click('#per-image tbody tr:nth-child(2)');
  assert.match(await page.getAttribute('#per-image tbody tr:nth-child(2)', 'class') || '', /selected/);
  await shot('02a-sea');
  await page.selectOption('#kind', 'apgd');
  await setSteps(2);

  // 3b. defenses: multi-scale + JPEG in front of the model (non-adaptive), 1 step
  await page.check('#def-multiscale');
  await page.selectOption('#def-reconstruct', 'jpeg:75');
  await setSteps(1);
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  assert.ok(await nonEmpty('defended-map'), 'the defended map is drawn');
  assert.match(await page.textContent('figure[data-view="defended-map"] figcaption') || '', /jpeg:75 → ms\(/);
  rows = await metricRows();
  assert.ok(rows.some((r) => r[0].includes('jpeg:75') && r[0].endsWith('adversarial vs clean') && Number(r[3]) >= 0), JSON.stringify(rows));
  assert.ok(rows.some((r) => r[0].endsWith('clean vs clean') && Number(r[3]) > 0.5), JSON.stringify(rows));
  await shot('02b-defended');
  // the adaptive attack through a reconstruction (BPDA) is native-only: a clear error, then the page goes on
  await page.check('#def-adaptive');
  await run();
  assert.ok(await bannerShown(), 'adaptive + reconstruction shows the banner');
  assert.match(await page.textContent('#banner-text') || '', /BPDA/);
  await page.uncheck('#def-adaptive');
  await page.uncheck('#def-multiscale');
  await page.selectOption('#def-reconstruct', '');
  await setSteps(2);

  // 4. targeted to image 2's map
  await page.click('button[data-mode="targeted"]');
  await page.check('input[name=tkind][value=image]');
  await page.selectOption('#target-index', '1');
  await run();
  rows = await metricRows();
  assert.ok(rows.some((r) => r[0] === 'adversarial vs target'), JSON.stringify(rows));
  assert.ok(await nonEmpty('target-map'));
  await shot('03-targeted-image');

  // 5. targeted to a class
  await page.check('input[name=tkind][value=class]');
  await page.selectOption('#target-class', '15');
  await run();
  rows = await metricRows();
  const clean = rows.find((r) => r[0] === 'clean vs target'), adv = rows.find((r) => r[0] === 'adversarial vs target');
  assert.ok(clean && adv && Number(adv[3]) > Number(clean[3]), `targeted-class moves towards the target: ${JSON.stringify(rows)}`);
  await shot('04-targeted-class');

  // 6. targeted to a painted map: paint a stroke with the brush
  await page.check('input[name=tkind][value=map]');
  assert.ok(await page.isVisible('figure[data-view="clean"] canvas.paint'), 'the paint layer is shown');
  const box = await page.locator('figure[data-view="clean"] canvas.paint').boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.3);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.6, { steps: 12 });
  await page.mouse.up();
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  rows = await metricRows();
  assert.ok(rows.some((r) => r[0] === 'adversarial vs target'), JSON.stringify(rows));
  await shot('05-targeted-map');

  // 7. cancel a long run
  await page.click('button[data-mode="untargeted"]');
  await setSteps(200);
  await page.click('#run');
  await page.waitForFunction(() => /step [1-9]/.test(document.getElementById('stage').textContent || ''), null, { timeout: 600000 });
  const tc = Date.now();
  await page.click('#cancel');
  await idle();
  report('cancel_latency_s', (Date.now() - tc) / 1000);
  assert.match(await stage() || '', /cancel/);
  assert.ok(!(await bannerShown()), 'a cancel is not an error');
  await setSteps(2);

  // 8. scaling attack: image 2 hidden in image 1
  await page.click('button[data-mode="scaling"]');
  await page.fill('#ratio', '2');
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  report('scaling_stage', await stage());
  rows = await metricRows();
  assert.ok(rows.some((r) => r[0] === 'attack (downscaled) vs target'), JSON.stringify(rows));
  assert.match(await page.textContent('figure[data-view="adversarial"] figcaption') || '', /attack image \(512×512\)/);
  await shot('06-scaling');
  const [spng] = await Promise.all([page.waitForEvent('download'), page.click('#dl-png')]);
  await spng.saveAs(join(artifacts, 'scaling-attack.png'));
  assert.equal(readFileSync(join(artifacts, 'scaling-attack.png')).readUInt32BE(16), 512);
  // 8b. scaling attack towards the painted map of step 6 (resized to the model size by the wasm API), 1 PGD step
  await page.selectOption('#scaling-target', 'map');
  await setSteps(1);
  await run();
  assert.ok(!(await bannerShown()), `no error: ${await page.textContent('#banner-text')}`);
  rows = await metricRows();
  assert.ok(rows.some((r) => r[0] === 'attack vs wanted map'), JSON.stringify(rows));
  assert.match(await page.textContent('figure[data-view="target-map"] figcaption') || '', /wanted map/);
  await shot('06b-scaling-map');

  // 9. a corrupt file: the banner names it, and the page keeps working
  await page.setInputFiles('#file', { name: 'corrupt.png', mimeType: 'image/png', buffer: Buffer.from('\x89PNG\r\n\x1a\nthis is not a png') });
  await page.waitForSelector('#banner:not([hidden])');
  const msg = await page.textContent('#banner-text');
  report('corrupt_file_banner', msg);
  assert.match(msg || '', /corrupt\.png/);
  await shot('07-error-banner');
  await page.click('button[data-mode="untargeted"]');
  await setSteps(1);
  await run();
  assert.ok(!(await bannerShown()), 'the banner is cleared by the next successful run');
  assert.match(await stage() || '', /1 steps/);

  // 10. drag and drop, then paste: the batch grows to 4 and stays at 4
  const horse = readFileSync(join(shared, 'fixtures', 'images', 'photos', 'horse.png')).toString('base64');
  const give = async (/** @type {'drop' | 'paste'} */ how, /** @type {string} */ name) => page.evaluate(([b64, how, name]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type: 'image/png' }));
    if (how === 'drop') document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    else document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, [horse, how, name]);
  for (const [how, name, count] of /** @type {const} */ ([['drop', 'dropped.png', 3], ['paste', 'pasted.png', 4], ['drop', 'fifth.png', 4]])) {
    const before = await segmentations();
    await give(how, name);
    await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, before, { timeout: 600000 });
    await idle();
    assert.equal(await page.$$eval('#batch .thumb', (t) => t.length), count);
    assert.ok((await page.textContent('#batch')).includes(name), `${how}: ${name} is in the batch`);
  }
  assert.match(await stage() || '', /segmented 4 image/);
  await shot('08-batch-of-4');

  // 11. offline: reload with the network off; the service worker serves the app and weights
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
  await idle();
  assert.ok(!(await bannerShown()), `offline reload: ${await page.textContent('#banner-text')}`);
  assert.ok(await nonEmpty('clean'), 'segmented offline');
  await shot('09-offline');
  await context.setOffline(false);

  // 12. the page on WebGPU (software adapter here): DeepLab, segment and a 1-step attack
  let gpu = null;
  if (process.env.E2E_WEBGPU !== '0') {
    const gctx = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const g = await gctx.newPage();
    g.on('pageerror', (e) => console.log(`[webgpu page exception] ${e.message}`));
    gctx.on('request', (r) => { const u = r.url(); if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) foreign.push(u); });
    const tg = Date.now();
    await g.goto(`${url}?backend=webgpu&model=deeplabv3-mnv2-voc`);
    await g.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
    await g.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: 600000 });
    const gBadge = await g.textContent('#backend');
    const first = (Date.now() - tg) / 1000;
    report('webgpu_backend', gBadge);
    report('webgpu_time_to_first_segmentation_s', first);
    assert.match(gBadge || '', /WebGPU/);
    await g.fill('#steps', '1');
    const ta = Date.now();
    await g.click('#run');
    await g.waitForFunction(() => document.body.dataset.stepsPerSecond, null, { timeout: 600000 });
    assert.ok(!(await g.isVisible('#banner')), `webgpu: ${await g.textContent('#banner-text')}`);
    report('webgpu_1_step_attack_stage', await g.textContent('#stage'));
    gpu = { backend: gBadge, firstSegmentationS: first, attackS: (Date.now() - ta) / 1000 };
    await g.screenshot({ path: join(artifacts, '10-webgpu.png'), fullPage: true });
    // "auto" with only a software adapter takes the CPU and says why (issue 12: the 55 s stall)
    await g.goto(`${url}?backend=auto&model=deeplabv3-mnv2-voc`);
    await g.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
    const aBadge = await g.textContent('#backend'), aNote = await g.textContent('#gpu-note');
    report('auto_with_software_webgpu', { backend: aBadge, note: aNote });
    assert.match(aBadge || '', /CPU/, 'auto never takes a software WebGPU adapter');
    assert.ok(await g.isVisible('#gpu-note') && /software emulation/.test(aNote || ''), `the page says why: ${aNote}`);
    await gctx.close();
  }

  // 13. a browser without WebGPU: the CPU backend, and the page says why
  const plain = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  try {
    const p = await plain.newPage({ viewport: { width: 1500, height: 1000 } });
    await p.goto(`${url}?model=deeplabv3-mnv2-voc`);
    await p.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
    const b = await p.textContent('#backend'), note = await p.textContent('#gpu-note');
    report('no_webgpu', { backend: b, note });
    assert.match(b || '', /CPU/);
    assert.ok(await p.isVisible('#gpu-note') && /WebGPU/.test(note || ''), `the page explains the CPU fallback: ${note}`);
    await p.screenshot({ path: join(artifacts, '11-no-webgpu.png'), fullPage: true });
  } finally {
    await plain.close();
  }

  assert.deepEqual(foreign, [], 'no request leaves the app\'s origin');
  writeFileSync(join(artifacts, 'result.json'), JSON.stringify({ ok: true, backend: badge, webgpu: gpu }, null, 1));
  console.log('e2e: all checks passed');
} catch (err) {
  failed = true;
  console.error('e2e: FAILED', err);
} finally {
  await browser.close();
  proc.kill();
}
process.exit(failed ? 1 : 0);
