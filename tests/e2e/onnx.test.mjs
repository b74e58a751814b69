// End-to-end test of "Your own model (ONNX)" (www/custom_model.js): drops a truncated file
// (the error shows in the panel, the loaded model stays), then a fixture network with its
// description filled in the form; it appears in the model menu, loads in every worker, segments
// the batch and an attack runs on it. Screenshots to tests/e2e/artifacts/onnx-*.png. An uncaught
// page error or a request to another origin fails it (lib.mjs).
//
// Usage: node tests/e2e/onnx.test.mjs   (after scripts/web_build.sh; env CHROMIUM, E2E_BACKEND)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { artifacts, checkSeen, launch, root, serve, watch } from './lib.mjs';

const backend = process.env.E2E_BACKEND || 'cpu';
const fixture = join(root, 'tests', 'fixtures', 'onnx', 'lraspp_mnv3_dynamo.onnx');

const { proc, url } = await serve();
const browser = await launch(['--enable-unsafe-webgpu']);
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
  watch(context, new URL(url).origin);
  const page = await context.newPage();
  const idle = () => page.waitForFunction(() => !document.body.classList.contains('busy') && !document.getElementById('run').disabled, null, { timeout: 600000 });
  const shot = (/** @type {string} */ name) => page.screenshot({ path: join(artifacts, `onnx-${name}.png`), fullPage: true });
  const status = () => page.textContent('#onnx-status');

  await page.goto(`${url}?backend=${backend}`);
  await page.waitForFunction(() => document.body.dataset.firstSegmentationMs, null, { timeout: 600000 });
  await idle();
  const zooModel = await page.inputValue('#model');
  await page.click('#onnx-model summary');

  // a truncated file: refused in the panel, the zoo model stays loaded
  const bytes = readFileSync(fixture);
  await page.setInputFiles('#onnx-file', { name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, 5000) });
  // (past the 'reading broken.onnx…' line: the worker's answer)
  await page.waitForFunction(() => /broken\.onnx/.test(document.getElementById('onnx-status')?.textContent || '') && !/^reading /.test(document.getElementById('onnx-status')?.textContent || ''), null, { timeout: 120000 });
  const bad = await status();
  console.log(JSON.stringify({ truncated_file_message: bad }));
  assert.match(bad || '', /not a readable ONNX model/);
  assert.equal(await page.inputValue('#model'), zooModel, 'the loaded model stays');
  assert.ok(!(await page.$$eval('#model option', (o) => o.some((e) => e.textContent?.includes('broken')))));
  await shot('1-refused');

  // the fixture with its description: ImageNet mean/std (its metadata says it too), six classes named
  await page.fill('#onnx-model [data-key="classes"]', 'background,sky,road,person,car,tree');
  const segs = Number(await page.evaluate(() => document.body.dataset.segmentations));
  const t0 = Date.now();
  await page.setInputFiles('#onnx-file', fixture);
  await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, segs, { timeout: 600000 });
  await idle();
  console.log(JSON.stringify({ onnx_load_and_segment_s: (Date.now() - t0) / 1000, status: await status() }));
  assert.equal(await page.inputValue('#model'), 'lraspp_mnv3_dynamo.onnx');
  // the status line says the model is loaded (not "loading…" forever)
  await page.waitForFunction(() => /— loaded \(/.test(document.getElementById('onnx-status')?.textContent || ''), null, { timeout: 30000 });
  assert.equal(await page.$$eval('#legend .chip', (c) => c.length), 6, 'the six described classes');
  assert.match(await page.textContent('#legend') || '', /person/);
  await shot('2-loaded');

  // an attack on it
  await page.fill('#steps', '2');
  await page.click('#run');
  await page.waitForFunction(() => document.body.classList.contains('busy')).catch(() => {});
  await idle();
  assert.ok(await page.isHidden('#banner'), `no error: ${await page.textContent('#banner-text')}`);
  const rows = await page.$$eval('#metrics tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  console.log(JSON.stringify({ metrics: rows }));
  // the share of pixels that keep their clean class falls below 1 (columns named by the table's head)
  const col = rows[0].indexOf('pixels with their clean class');
  assert.ok(col > 0 && rows.some((r) => r[0] === 'adversarial vs clean' && Number(r[col]) < 0.9), JSON.stringify(rows));
  await shot('3-attacked');
  checkSeen();
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
  proc.kill();
}
process.exit(failed ? 1 : 0);
