// The view tiles: every image or map is drawn into its tile at the tile's own device-pixel size,
// shrunk by area averaging — each tile pixel the mean of the source pixels it covers, what an
// eye sees of a fine print. A browser left to scale a large canvas itself (nearest neighbour
// under `image-rendering: pixelated`) samples one source pixel in many, which is itself an
// image-scaling attack on the viewer; the "naive viewer" toggle shows that on purpose.
// Enlarged tiles show the real pixels as blocks (nearest neighbour never hides anything there).

/** @typedef {'area' | 'nearest'} Filter */

/** @type {WeakMap<HTMLCanvasElement, ImageData>} the source each tile shows */
const sources = new WeakMap();
/** @type {WeakMap<HTMLCanvasElement, {src: ImageData, w: number, h: number, filter: Filter}>} what each tile last drew */
const drawn = new WeakMap();
/** @type {Filter} */
let filter = 'area';
/** @type {ResizeObserver | null} */
let observer = null;

/**
 * Per output index of one axis, the source indices it covers and their weights (the overlap of
 * the output pixel's footprint with each source pixel, summing to 1).
 * @param {number} n source length @param {number} m output length (≤ n)
 * @returns {{first: Int32Array, count: Int32Array, weights: Float32Array[]}}
 */
function areaWeights(n, m) {
  const scale = n / m;
  const first = new Int32Array(m), count = new Int32Array(m);
  /** @type {Float32Array[]} */
  const weights = [];
  for (let o = 0; o < m; o++) {
    const a = o * scale, b = (o + 1) * scale;
    const i0 = Math.floor(a), i1 = Math.min(n, Math.ceil(b));
    const w = new Float32Array(i1 - i0);
    for (let i = i0; i < i1; i++) w[i - i0] = (Math.min(b, i + 1) - Math.max(a, i)) / scale;
    first[o] = i0; count[o] = i1 - i0; weights.push(w);
  }
  return { first, count, weights };
}

/**
 * `src` shrunk to `w × h` by area averaging (separable: rows, then columns). RGBA; alpha
 * averaged like the colours.
 * @param {ImageData} src @param {number} w @param {number} h @returns {ImageData}
 */
export function areaDownscale(src, w, h) {
  const { width: sw, height: sh, data } = src;
  const xs = areaWeights(sw, w), ys = areaWeights(sh, h);
  const rows = new Float32Array(w * sh * 4);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < w; x++) {
      const f = xs.first[x], wt = xs.weights[x];
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < wt.length; k++) {
        const p = 4 * (y * sw + f + k), c = wt[k];
        r += c * data[p]; g += c * data[p + 1]; b += c * data[p + 2]; a += c * data[p + 3];
      }
      const q = 4 * (y * w + x);
      rows[q] = r; rows[q + 1] = g; rows[q + 2] = b; rows[q + 3] = a;
    }
  }
  const out = new ImageData(w, h);
  for (let y = 0; y < h; y++) {
    const f = ys.first[y], wt = ys.weights[y];
    for (let x = 0; x < w; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let k = 0; k < wt.length; k++) {
        const p = 4 * ((f + k) * w + x), c = wt[k];
        r += c * rows[p]; g += c * rows[p + 1]; b += c * rows[p + 2]; a += c * rows[p + 3];
      }
      const q = 4 * (y * w + x);
      out.data[q] = Math.round(r); out.data[q + 1] = Math.round(g); out.data[q + 2] = Math.round(b); out.data[q + 3] = Math.round(a);
    }
  }
  return out;
}

/**
 * `src` at `w × h` by nearest neighbour (the source pixel under each output pixel's centre).
 * @param {ImageData} src @param {number} w @param {number} h @returns {ImageData}
 */
export function nearestResize(src, w, h) {
  const out = new ImageData(w, h);
  const { width: sw, height: sh, data } = src;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(sh - 1, Math.floor((y + 0.5) * sh / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(sw - 1, Math.floor((x + 0.5) * sw / w));
      const p = 4 * (sy * sw + sx), q = 4 * (y * w + x);
      out.data[q] = data[p]; out.data[q + 1] = data[p + 1]; out.data[q + 2] = data[p + 2]; out.data[q + 3] = data[p + 3];
    }
  }
  return out;
}

/**
 * The size in device pixels at which `canvas` shows an image of `w × h` (fitted into the
 * canvas's box, aspect kept), never larger than the image itself.
 * @param {HTMLCanvasElement} canvas @param {number} w @param {number} h
 */
function targetSize(canvas, w, h) {
  const dpr = globalThis.devicePixelRatio || 1;
  const bw = canvas.clientWidth, bh = canvas.clientHeight;
  if (!(bw > 0)) return { w, h };
  const s = Math.min(bw / w, bh > 0 ? bh / h : Infinity) * dpr;
  if (s >= 1) return { w, h };
  return { w: Math.max(1, Math.floor(w * s)), h: Math.max(1, Math.floor(h * s)) };
}

/** Redraw one tile from its kept source at its current size. @param {HTMLCanvasElement} canvas */
function repaint(canvas) {
  const src = sources.get(canvas);
  if (!src) return;
  const { w, h } = targetSize(canvas, src.width, src.height);
  // the observer's first call after paint(), and resizes that keep the tile's size, change nothing
  const last = drawn.get(canvas);
  if (last && last.src === src && last.w === w && last.h === h && last.filter === filter) return;
  drawn.set(canvas, { src, w, h, filter });
  const img = w === src.width && h === src.height ? src : filter === 'area' ? areaDownscale(src, w, h) : nearestResize(src, w, h);
  canvas.width = w; canvas.height = h;
  canvas.dataset.source = `${src.width}x${src.height}`;
  canvas.dataset.filter = w === src.width ? 'none' : filter;
  const ctx = canvas.getContext('2d');
  if (ctx) ctx.putImageData(img, 0, 0);
}

/**
 * Show `img` in a view tile (shrunk by the current filter to the tile's size, redrawn when the
 * tile is resized).
 * @param {HTMLCanvasElement} canvas @param {ImageData} img
 */
export function paint(canvas, img) {
  sources.set(canvas, img);
  // a definite box whatever the backing size (tiles sized by width keep the image's shape)
  canvas.style.aspectRatio = `${img.width} / ${img.height}`;
  if (!observer && typeof ResizeObserver !== 'undefined') {
    observer = new ResizeObserver((entries) => { for (const e of entries) repaint(/** @type {HTMLCanvasElement} */ (e.target)); });
  }
  if (observer) observer.observe(canvas);
  repaint(canvas);
}

/** Empty a tile. @param {HTMLCanvasElement} canvas */
export function blank(canvas) {
  sources.delete(canvas);
  drawn.delete(canvas);
  if (observer) observer.unobserve(canvas);
  const ctx = canvas.getContext('2d');
  if (ctx) ctx.clearRect(0, 0, canvas.width, canvas.height);
  delete canvas.dataset.source;
}

/** Stop following a tile that leaves the page (the observer would keep it alive). @param {Element} root */
export function release(root) {
  if (!observer) return;
  for (const c of root.querySelectorAll('canvas')) {
    observer.unobserve(c);
    sources.delete(/** @type {HTMLCanvasElement} */ (c));
    drawn.delete(/** @type {HTMLCanvasElement} */ (c));
  }
}

/** The source a tile shows (null when empty). @param {HTMLCanvasElement} canvas */
export function sourceOf(canvas) { return sources.get(canvas) || null; }

/**
 * Choose how tiles shrink images (`nearest`: the naive viewer) and redraw every tile.
 * @param {Filter} f
 */
export function setFilter(f) {
  filter = f;
  for (const c of document.querySelectorAll('canvas[data-source]')) repaint(/** @type {HTMLCanvasElement} */ (c));
}
