// The 1:1 inset of the scaling view: a crop of the full-size attack image with one image pixel per
// CSS pixel, so the pixels the downscaler reads — and what the attack put there — can be seen
// for what they are. A click (or tap) on the attack image moves the crop there.
import * as view from './view.js';

/** Side of the crop in image pixels where the inset is not laid out yet. */
const SIDE = 128;

/** @type {import('./state.js').Picture | null} */
let picture = null;
/** The crop's centre as fractions of the image. */
let centre = { x: 0.5, y: 0.5 };

function inset() { return /** @type {HTMLCanvasElement} */ (document.querySelector('figure[data-view="adversarial"] canvas.zoom')); }

function draw() {
  const canvas = inset();
  if (!picture) { canvas.hidden = true; return; }
  const { width: w, height: h, rgb } = picture;
  canvas.hidden = false;
  // one image pixel per CSS pixel of the inset
  const side = canvas.clientWidth || SIDE;
  const cw = Math.min(side, w), ch = Math.min(side, h);
  const x0 = Math.max(0, Math.min(w - cw, Math.round(centre.x * w - cw / 2)));
  const y0 = Math.max(0, Math.min(h - ch, Math.round(centre.y * h - ch / 2)));
  const crop = new Uint8Array(cw * ch * 3);
  for (let y = 0; y < ch; y++) crop.set(rgb.subarray(3 * ((y0 + y) * w + x0), 3 * ((y0 + y) * w + x0 + cw)), 3 * y * cw);
  view.draw(canvas, view.rgbImage(crop, cw, ch));
  canvas.dataset.crop = `${x0},${y0},${cw},${ch}`;
  canvas.title = `the attack image's real pixels, 1:1: x ${x0}–${x0 + cw - 1}, y ${y0}–${y0 + ch - 1} (click the attack image to move)`;
}

/**
 * Show the inset on the attack image `p` (null: hide it).
 * @param {import('./state.js').Picture | null} p
 */
export function showZoom(p) {
  if (p !== picture) centre = { x: 0.5, y: 0.5 };
  picture = p;
  draw();
}

/** Wire the click that moves the crop. */
export function wireZoom() {
  const fig = /** @type {HTMLElement} */ (document.querySelector('figure[data-view="adversarial"]'));
  const main = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
  main.addEventListener('click', (ev) => {
    if (!picture) return;
    const p = view.pixelAt(main, ev);
    centre = { x: (p.x + 0.5) / main.width, y: (p.y + 0.5) / main.height };
    draw();
  });
}
