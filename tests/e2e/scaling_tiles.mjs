// Checks of the scaling view's tiles (www/tile.js, www/zoom.js) on the page's last scaling result:
// the attack image's tile is shrunk by area averaging — compared pixel by pixel with a
// box-filtered reference computed here in 2-D from the full-size image (each tile pixel the
// coverage-weighted mean of the source pixels under its footprint) —; with "what a naive viewer
// shows" it is the nearest-neighbour sample instead; the 1:1 inset holds the image's own pixels.
import assert from 'node:assert/strict';

/**
 * Compare the adversarial tile with a box filter of `state.result.attack` and with nearest
 * neighbour sampling; returns the differences (grey levels).
 * @param {import('playwright-core').Page} page
 */
async function compare(page) {
  return page.evaluate(async () => {
    const { state } = await import('./state.js');
    const src = /** @type {any} */ (state.result).attack;
    const canvas = /** @type {HTMLCanvasElement} */ (document.querySelector('figure[data-view="adversarial"] canvas'));
    const W = canvas.width, H = canvas.height, sw = src.width, sh = src.height;
    const got = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(0, 0, W, H).data;
    const fx = sw / W, fy = sh / H;
    let maxBox = 0, sumBox = 0, maxNear = 0, sumNear = 0;
    for (let y = 0; y < H; y++) {
      const y0 = y * fy, y1 = (y + 1) * fy;
      for (let x = 0; x < W; x++) {
        const x0 = x * fx, x1 = (x + 1) * fx;
        const box = [0, 0, 0];
        for (let j = Math.floor(y0); j < Math.ceil(y1); j++) {
          const wy = Math.min(y1, j + 1) - Math.max(y0, j);
          for (let i = Math.floor(x0); i < Math.ceil(x1); i++) {
            const w = wy * (Math.min(x1, i + 1) - Math.max(x0, i));
            for (let c = 0; c < 3; c++) box[c] += w * src.rgb[3 * (j * sw + i) + c];
          }
        }
        const ny = Math.min(sh - 1, Math.floor((y + 0.5) * fy)), nx = Math.min(sw - 1, Math.floor((x + 0.5) * fx));
        for (let c = 0; c < 3; c++) {
          const v = got[4 * (y * W + x) + c];
          const db = Math.abs(v - box[c] / (fx * fy)), dn = Math.abs(v - src.rgb[3 * (ny * sw + nx) + c]);
          maxBox = Math.max(maxBox, db); sumBox += db; maxNear = Math.max(maxNear, dn); sumNear += dn;
        }
      }
    }
    const n = 3 * W * H;
    return { tile: [W, H], source: [sw, sh], filter: canvas.dataset.filter, maxBox, meanBox: sumBox / n, maxNearest: maxNear, meanNearest: sumNear / n };
  });
}

/**
 * The checks; returns what was measured.
 * @param {import('playwright-core').Page} page
 */
export async function scalingTiles(page) {
  const area = await compare(page);
  assert.equal(area.filter, 'area', JSON.stringify(area));
  assert.ok(area.tile[0] < area.source[0], `the tile shrinks the image: ${JSON.stringify(area)}`);
  assert.ok(area.maxBox <= 1.01, `the tile is the box-filtered image (rounding aside): ${JSON.stringify(area)}`);
  // the naive viewer: nearest-neighbour samples, on purpose
  await page.check('#naive-view');
  const naive = await compare(page);
  assert.equal(naive.filter, 'nearest');
  assert.equal(naive.maxNearest, 0, `the naive tile is the nearest-neighbour sample: ${JSON.stringify(naive)}`);
  assert.ok(naive.meanBox > area.meanBox, 'and differs from what an eye sees');
  await page.uncheck('#naive-view');
  // the 1:1 inset: the attack image's own pixels
  const inset = await page.evaluate(async () => {
    const { state } = await import('./state.js');
    const src = /** @type {any} */ (state.result).attack;
    const c = /** @type {HTMLCanvasElement} */ (document.querySelector('figure[data-view="adversarial"] canvas.zoom'));
    if (c.hidden) return { shown: false };
    const [x0, y0, w, h] = (c.dataset.crop || '').split(',').map(Number);
    const d = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d')).getImageData(0, 0, c.width, c.height).data;
    let diff = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < 3; k++) diff = Math.max(diff, Math.abs(d[4 * (y * w + x) + k] - src.rgb[3 * ((y0 + y) * src.width + x0 + x) + k]));
    const r = c.getBoundingClientRect();
    return { shown: true, crop: [x0, y0, w, h], backing: [c.width, c.height], css: [r.width, r.height], diff };
  });
  assert.ok(inset.shown, 'the 1:1 inset is shown');
  assert.equal(inset.diff, 0, `the inset holds the image's pixels: ${JSON.stringify(inset)}`);
  assert.deepEqual(inset.css, inset.backing, `one image pixel per CSS pixel: ${JSON.stringify(inset)}`);
  return { area, naive: { maxNearest: naive.maxNearest, meanBox: naive.meanBox }, inset };
}
