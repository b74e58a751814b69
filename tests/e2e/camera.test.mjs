// End-to-end test of the live camera view (www/camera.js, www/universal.js): a y4m clip made here
// from shared fixture images is Chromium's fake camera; the page runs a VOC model, the camera view
// its own selfie segmenter (the page's model, legend and results stay), crafts a universal δ on
// at least 3 images (the batch topped up from the gallery; few steps) and scores it on gallery
// images held apart (a small table), starts the camera, and the test checks that frames are
// segmented, the fps figure appears, the perturbed stream's maps differ from the clean stream's,
// and that δ downloads as a PNG with its ε and loads back. Prints fps (clean + attacked, clean
// only) as JSON lines; screenshots go to tests/e2e/artifacts/. An uncaught page error fails it.
//
// Usage: node tests/e2e/camera.test.mjs   (after scripts/web_build.sh; env CHROMIUM, E2E_BACKEND)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { artifacts, checkSeen, launch, report, serve, shared, watch } from './lib.mjs';

const backend = process.env.E2E_BACKEND || 'cpu';
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const images = join(shared, 'fixtures', 'images');
/** The page's own model: the camera view must leave it loaded. */
const PAGE_MODEL = 'espnetv2-voc-s0.5';

/** The clip: these images, each shown for FRAMES_EACH frames at 320×240 (the first two are in the crafting set: the
 * page's default sample voc/294 and the uploaded astronaut, topped up from the gallery; voc/8 is held apart). */
const CLIP = ['photos/astronaut.png', 'voc/294.png', 'voc/8.png'];
const FRAMES_EACH = 45;
const [W, H] = [320, 240];

/**
 * RGBA pixels of PNG files at `w × h`, decoded and scaled by a browser (no image library needed).
 * @param {string[]} files @param {number} w @param {number} h @returns {Promise<Uint8Array[]>}
 */
async function decodeImages(files, w, h) {
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const out = [];
    for (const f of files) {
      const b64 = readFileSync(f).toString('base64');
      const px = await page.evaluate(async ({ b64, w, h }) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = new OffscreenCanvas(w, h);
        const g = /** @type {OffscreenCanvasRenderingContext2D} */ (c.getContext('2d'));
        g.drawImage(img, 0, 0, w, h);
        return Array.from(g.getImageData(0, 0, w, h).data);
      }, { b64, w, h });
      out.push(Uint8Array.from(px));
    }
    return out;
  } finally {
    await browser.close();
  }
}

/**
 * A YUV4MPEG2 clip (4:2:0, BT.601 limited range) of RGBA frames, each repeated `repeat` times.
 * @param {Uint8Array[]} frames @param {number} w @param {number} h @param {number} repeat @returns {Buffer}
 */
export function y4m(frames, w, h, repeat) {
  const parts = [Buffer.from(`YUV4MPEG2 W${w} H${h} F30:1 Ip A1:1 C420jpeg\n`)];
  for (const rgba of frames) {
    const y = Buffer.alloc(w * h), u = Buffer.alloc((w / 2) * (h / 2)), v = Buffer.alloc((w / 2) * (h / 2));
    for (let p = 0; p < w * h; p++) {
      const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
      y[p] = Math.round(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
    }
    for (let j = 0; j < h / 2; j++) {
      for (let i = 0; i < w / 2; i++) {
        let [r, g, b] = [0, 0, 0];
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
          const p = (2 * j + dy) * w + 2 * i + dx;
          r += rgba[4 * p] / 4; g += rgba[4 * p + 1] / 4; b += rgba[4 * p + 2] / 4;
        }
        u[j * (w / 2) + i] = Math.round(128 + (-37.797 * r - 74.203 * g + 112 * b) / 255);
        v[j * (w / 2) + i] = Math.round(128 + (112 * r - 93.786 * g - 18.214 * b) / 255);
      }
    }
    for (let k = 0; k < repeat; k++) parts.push(Buffer.from('FRAME\n'), y, u, v);
  }
  return Buffer.concat(parts);
}

const clipPath = join(artifacts, 'camera-clip.y4m');
const frames = await decodeImages(CLIP.map((f) => join(images, f)), W, H);
writeFileSync(clipPath, y4m(frames, W, H, FRAMES_EACH));
report('clip', { frames: CLIP.length * FRAMES_EACH, size: `${W}x${H}`, bytes: readFileSync(clipPath).length });

const { proc, url } = await serve();
const browser = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${clipPath}`]);
let failed = false;
try {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1500, height: 1400 } });
  const origin = new URL(url).origin;
  await context.grantPermissions(['camera'], { origin });
  watch(context, origin);
  const page = await context.newPage();
  const shot = async (/** @type {string} */ name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  /** Wait for `fn` (in the page) or fail at once on the error banner. @param {Function} fn @param {any} [arg] @param {number} [timeout] */
  const until = async (fn, arg, timeout = 600000) => {
    const banner = page.waitForSelector('#banner:not([hidden])', { timeout }).then(async () => {
      throw new Error(`the page shows an error: ${await page.textContent('#banner-text')}`);
    });
    try {
      await Promise.race([page.waitForFunction(/** @type {any} */ (fn), arg, { timeout }), banner]);
    } finally {
      banner.catch(() => {});
    }
  };
  const idle = () => page.waitForFunction(() => !document.body.classList.contains('busy'), null, { timeout: 600000 });
  const data = (/** @type {string} */ key) => page.evaluate((k) => document.body.dataset[k] || '', key);
  const framesAfter = async (/** @type {number} */ n) => {
    await until((/** @type {number} */ k) => Number(document.body.dataset.cameraFrames || 0) >= k, n, 300000);
  };
  /** The share of pixels whose class differs between the streams, sampled for `ms`. @param {number} ms */
  const differSamples = async (ms) => {
    const out = [];
    for (const t = Date.now(); Date.now() - t < ms;) {
      const d = Number(await data('cameraDiffer'));
      if (Number.isFinite(d)) out.push(d);
      await page.waitForTimeout(150);
    }
    return out;
  };
  const bannerText = async () => (await page.isVisible('#banner')) ? await page.textContent('#banner-text') : '';

  // 1. the page on a VOC model, the camera view on the selfie segmenter; the batch: two of the clip's images
  await page.goto(`${url}?backend=${backend}&model=${PAGE_MODEL}`);
  await until(() => document.body.dataset.firstSegmentationMs);
  await idle();
  /** The page's own model, legend and clean maps: the camera view must not touch them. */
  const pageState = () => page.evaluate(async () => {
    const { state } = await import('./state.js');
    return { model: /** @type {HTMLSelectElement} */ (document.getElementById('model')).value, info: state.info && state.info.name,
      legend: document.querySelectorAll('#legend .chip').length, segmented: !!state.clean && state.clean.maps.length };
  });
  assert.equal(await page.inputValue('#cam-model'), 'selfie', 'the camera view offers the selfie segmenter first');
  const firstOption = await page.$eval('#cam-model', (s) => /** @type {HTMLSelectElement} */ (s).options[0].value);
  assert.equal(firstOption, 'selfie');
  // the crafting batch: the default sample (voc/294) and the astronaut
  const seg = Number(await data('segmentations'));
  await page.setInputFiles('#file', join(images, CLIP[0]));
  await until((/** @type {number} */ n) => Number(document.body.dataset.segmentations) > n, seg);
  await idle();
  const batch = await page.$$eval('#batch .thumb', (t) => t.length);
  report('batch_images', batch);
  assert.equal(batch, 2, `batch of ${batch}`);
  const before = await pageState();
  assert.deepEqual(before, { model: PAGE_MODEL, info: PAGE_MODEL, legend: 21, segmented: 2 });

  // 2. the camera before any δ: the clean stream alone (at the model's size for the video)
  await page.click('#cam-start');
  await framesAfter(3);
  assert.equal(await data('cameraMode'), 'clean only');
  assert.match(await page.textContent('#cam-attacked-caption') || '', /craft or load a δ first/);
  assert.match(await page.textContent('#cam-fps') || '', /fps \(clean only/);

  // 3. a long crafting run cancelled mid-way (the camera keeps running)
  await page.fill('#uni-steps', '500');
  await page.click('#uni-craft');
  await until(() => /crafting δ on \d+ image\(s\): step [3-9]\//.test(document.getElementById('uni-status')?.textContent || ''), undefined, 120000);
  await page.click('#uni-cancel');
  await until(() => /^cancelled/.test(document.getElementById('uni-status')?.textContent || ''), undefined, 120000);
  assert.equal(await data('universal'), '', 'no δ after a cancelled run');
  const afterCancel = Number(await data('cameraFrames'));
  await framesAfter(afterCancel + 2);

  // 4. craft δ while the camera runs (frames wait meanwhile): hide the person, ε 16/255, 20 steps
  await page.fill('#uni-steps', '20');
  const tc = Date.now();
  await page.click('#uni-craft');
  await until(() => document.body.dataset.universal);
  report('universal_craft_s', (Date.now() - tc) / 1000);
  const uniStatus = await page.textContent('#uni-status');
  report('universal_status', uniStatus);
  assert.match(uniStatus || '', /δ crafted on 3 image\(s\)/, 'the batch of 2 is topped up to 3 crafting images');
  assert.equal(await data('universal'), '256x256');
  const crafted = JSON.parse(await data('universalImages'));
  report('universal_crafting_images', crafted);
  assert.ok(crafted.length === 3 && crafted[0] === 'voc/294.png' && crafted.includes('astronaut.png'), JSON.stringify(crafted));
  const uniTable = await page.$$eval('#uni-table tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  report('universal_table', uniTable);
  assert.equal(uniTable.length, 2, 'crafted-on and held-apart rows');
  assert.match(uniTable[1][0] || '', /^held apart: .*voc\/8\.png/);
  const pooled = JSON.parse(await data('universalReport'));
  report('universal_crafting_pooled', pooled);
  assert.ok(pooled.vanished > 0.2, `20 steps should hide some of the person on the crafting images: ${JSON.stringify(pooled)}`);
  // and it is scored on gallery images held apart from the crafting
  const apart = JSON.parse(await data('universalHeldOut') || 'null');
  report('universal_held_apart_pooled', apart);
  assert.ok(apart && typeof apart.accuracy_vs_clean === 'number', `no held-apart scores: ${uniStatus}`);
  assert.match(uniStatus || '', /held apart/);
  assert.equal(await bannerText(), '');
  assert.deepEqual(await pageState(), before, 'the camera view keeps the page\'s model, legend and clean maps');

  // 5. clean and attacked side by side, fps shown, the maps differ
  await until(() => document.body.dataset.cameraMode === 'clean + attacked', undefined, 120000);
  await framesAfter(Number(await data('cameraFrames')) + 2);
  const warm = Number(await data('cameraFrames'));
  const t1 = Date.now();
  await framesAfter(warm + 12);
  const attackedFps = (Number(await data('cameraFrames')) - warm) / ((Date.now() - t1) / 1000);
  const fpsText = await page.textContent('#cam-fps');
  report('camera_fps_text_attacked', fpsText);
  report('camera_fps_clean_plus_attacked', Number(attackedFps.toFixed(2)));
  assert.match(fpsText || '', /\d+(\.\d)? fps \(clean \+ attacked/);
  assert.equal(await data('cameraMode'), 'clean + attacked');
  // over one loop of the clip (4.5 s): the held-out image changes less than the crafting ones
  const differ = Math.max(...await differSamples(5000));
  report('camera_maps_differ_fraction_max', differ);
  report('camera_stats', await page.textContent('#cam-stats'));
  assert.ok(differ > 0.1, `the perturbed stream's maps should differ from the clean stream's: ${differ}`);
  // the camera panel at a few moments of the clip (the clip shows each image for 1.5 s)
  for (const k of [1, 2, 3]) {
    await page.$eval('#camera-panel', (e) => e.scrollIntoView());
    await (await page.$('#camera-panel'))?.screenshot({ path: join(artifacts, `camera-01-attacked-${k}.png`) });
    await page.waitForTimeout(700);
  }
  await shot('camera-01-page');
  // both canvases hold a picture (not a blank canvas)
  for (const id of ['cam-clean', 'cam-attacked']) {
    const spread = await page.$eval(`#${id}`, (c) => {
      const cv = /** @type {HTMLCanvasElement} */ (c);
      const d = /** @type {CanvasRenderingContext2D} */ (cv.getContext('2d')).getImageData(0, 0, cv.width, cv.height).data;
      let lo = 255, hi = 0;
      for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); }
      return hi - lo;
    });
    assert.ok(spread > 50, `${id} shows a picture (red spread ${spread})`);
  }

  // 6. without δ: only the clean stream, its fps
  await page.uncheck('#cam-attack');
  await page.waitForFunction(() => document.body.dataset.cameraMode === 'clean only', null, { timeout: 120000 });
  const warm2 = Number(await data('cameraFrames'));
  const t2 = Date.now();
  await framesAfter(warm2 + 12);
  const cleanFps = (Number(await data('cameraFrames')) - warm2) / ((Date.now() - t2) / 1000);
  report('camera_fps_text_clean', await page.textContent('#cam-fps'));
  report('camera_fps_clean_only', Number(cleanFps.toFixed(2)));
  assert.match(await page.textContent('#cam-attacked-caption') || '', /off/, 'the attacked view says it is off');
  await shot('camera-02-clean-only');
  await page.check('#cam-attack');

  // 7. δ as a PNG with its ε, loaded back
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#uni-download')]);
  const deltaPath = join(artifacts, 'camera-delta.png');
  await dl.saveAs(deltaPath);
  const png = readFileSync(deltaPath);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
  assert.equal(png.readUInt32BE(16), 256);
  assert.ok(png.includes(Buffer.from('advseg-eps\0')), 'ε in a text chunk');
  await page.setInputFiles('#uni-load', deltaPath);
  await page.waitForFunction(() => /loaded camera-delta\.png: 256×256, ε 16\.0\/255/.test(document.getElementById('uni-status')?.textContent || ''), null, { timeout: 60000 });
  const n3 = Number(await data('cameraFrames'));
  await framesAfter(n3 + 3);
  const differLoaded = Math.max(...await differSamples(5000));
  report('camera_maps_differ_fraction_max_loaded_delta', differLoaded);
  assert.ok(differLoaded > 0.1, `the loaded δ still changes the maps: ${differLoaded}`);

  // 8. stop: the camera is released
  await page.click('#cam-stop');
  await page.waitForFunction(() => document.getElementById('cam-fps')?.textContent === 'stopped', null, { timeout: 60000 });
  await page.keyboard.press('Tab'); // the controls are reachable by keyboard
  await shot('camera-03-stopped');
  assert.equal(await bannerText(), '');
  assert.deepEqual(await pageState(), before, 'the page\'s model is still the one it had');
  checkSeen();
  console.log('camera e2e: ok');
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await browser.close();
  proc.kill();
}
process.exit(failed ? 1 : 0);
