// Drawing: images, class maps, perturbations, overlays, the legend and the live chart.

/** Colour of void / unpainted pixels (as the VOC palette). */
export const VOID_COLOUR = [224, 224, 192];

/**
 * RGBA pixels of an RGB buffer.
 * @param {Uint8Array} rgb @param {number} w @param {number} h
 */
export function rgbImage(rgb, w, h) {
  const out = new ImageData(w, h);
  for (let i = 0, j = 0; i < w * h; i++, j += 3) {
    out.data[4 * i] = rgb[j]; out.data[4 * i + 1] = rgb[j + 1]; out.data[4 * i + 2] = rgb[j + 2]; out.data[4 * i + 3] = 255;
  }
  return out;
}

/**
 * RGBA pixels of a class map in the dataset's colours (255 and unknown classes: void colour).
 * @param {Uint8Array} classes @param {number} w @param {number} h @param {number[][]} palette
 * @param {number} [voidAlpha] alpha of void pixels (255: opaque)
 */
export function mapImage(classes, w, h, palette, voidAlpha = 255) {
  const out = new ImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const c = palette[classes[i]];
    const rgb = c || VOID_COLOUR;
    out.data[4 * i] = rgb[0]; out.data[4 * i + 1] = rgb[1]; out.data[4 * i + 2] = rgb[2];
    out.data[4 * i + 3] = c ? 255 : voidAlpha;
  }
  return out;
}

/**
 * The perturbation adv − orig (8-bit RGB), amplified around grey so its largest change spans
 * the range. Returns the image and the factor used.
 * @param {Uint8Array} adv @param {Uint8Array} orig @param {number} w @param {number} h
 */
export function perturbationImage(adv, orig, w, h) {
  const max = diffStats(adv, orig).linf;
  const factor = max > 0 ? Math.max(1, Math.floor(127 / max)) : 1;
  const rgb = new Uint8Array(adv.length);
  for (let i = 0; i < adv.length; i++) rgb[i] = Math.max(0, Math.min(255, 128 + factor * (adv[i] - orig[i])));
  return { image: rgbImage(rgb, w, h), factor, max };
}

/**
 * L∞ (grey levels) and L2 (in [0, 1] units) of the difference of two 8-bit buffers.
 * @param {Uint8Array} a @param {Uint8Array} b
 * @returns {{linf: number, l2: number}}
 */
export function diffStats(a, b) {
  let linf = 0, sq = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; linf = Math.max(linf, Math.abs(d)); sq += (d / 255) ** 2; }
  return { linf, l2: Math.sqrt(sq) };
}

/**
 * An image with a class map blended over it.
 * @param {Uint8Array} rgb @param {Uint8Array} classes @param {number} w @param {number} h
 * @param {number[][]} palette @param {number} alpha in [0, 1]
 */
export function overlayImage(rgb, classes, w, h, palette, alpha) {
  const out = new ImageData(w, h);
  for (let i = 0, j = 0; i < w * h; i++, j += 3) {
    const c = palette[classes[i]] || VOID_COLOUR;
    for (let k = 0; k < 3; k++) out.data[4 * i + k] = Math.round((1 - alpha) * rgb[j + k] + alpha * c[k]);
    out.data[4 * i + 3] = 255;
  }
  return out;
}

/** @param {HTMLCanvasElement} canvas @param {ImageData} img */
export function draw(canvas, img) {
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (ctx) ctx.putImageData(img, 0, 0);
}

/** @param {HTMLCanvasElement} canvas */
export function clear(canvas) {
  const ctx = canvas.getContext('2d');
  if (ctx) ctx.clearRect(0, 0, canvas.width, canvas.height);
}

/**
 * The class legend: a chip per class in its colour; clicking one calls `onPick(index)`.
 * @param {HTMLElement} el @param {string[]} classes @param {number[][]} palette
 * @param {(c: number) => void} onPick
 */
export function legend(el, classes, palette, onPick) {
  el.replaceChildren(...classes.map((name, i) => {
    const b = document.createElement('button');
    b.className = 'chip'; b.type = 'button'; b.title = `class ${i}: ${name}`;
    const sw = document.createElement('span');
    sw.className = 'swatch'; sw.style.background = `rgb(${palette[i].join(',')})`;
    b.append(sw, document.createTextNode(name));
    b.addEventListener('click', () => onPick(i));
    return b;
  }));
}

/**
 * Size a canvas's backing store to its displayed size (device pixels) so that text drawn on it
 * keeps its size on any screen; returns the context scaled to CSS pixels and the CSS size.
 * @param {HTMLCanvasElement} canvas @param {number} fallbackW @param {number} fallbackH
 */
export function fitCanvas(canvas, fallbackW, fallbackH) {
  const dpr = globalThis.devicePixelRatio || 1;
  const W = canvas.clientWidth || fallbackW, H = canvas.clientHeight || fallbackH;
  if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
  }
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, W, H };
}

/**
 * The live chart: loss (left axis, orange) and mean agreement with the reference (right
 * axis 0–1, blue) per step; `result`, once the run is over, marks the agreement of what was
 * returned (the kept iterates, 8-bit) so that the chart and the table tell the same story.
 * @param {HTMLCanvasElement} canvas
 * @param {{step: number, loss: number, agreement: number}[]} points
 * @param {number} steps
 * @param {{step: number, agreement: number} | null} [result]
 */
export function chart(canvas, points, steps, result = null) {
  const { ctx, W, H } = fitCanvas(canvas, 520, 160);
  const pad = { l: 44, r: 44, t: 12, b: 22 };
  ctx.clearRect(0, 0, W, H);
  ctx.font = '11px system-ui, sans-serif';
  ctx.strokeStyle = '#3a4150'; ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  ctx.fillStyle = '#9aa4b5';
  ctx.fillText('step', W / 2 - 10, H - 6);
  if (points.length === 0) return;
  const losses = points.map((p) => p.loss).filter(Number.isFinite);
  let lo = Math.min(...losses), hi = Math.max(...losses);
  if (!(hi > lo)) { hi = lo + 1e-6; lo -= 1e-6; }
  const x = (/** @type {number} */ s) => pad.l + (W - pad.l - pad.r) * s / Math.max(1, steps);
  const yl = (/** @type {number} */ v) => pad.t + (H - pad.t - pad.b) * (1 - (v - lo) / (hi - lo));
  const ya = (/** @type {number} */ v) => pad.t + (H - pad.t - pad.b) * (1 - v);
  const line = (/** @type {string} */ colour, /** @type {(p: any) => number} */ y) => {
    ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.step), y(p)) : ctx.moveTo(x(p.step), y(p))));
    ctx.stroke();
    for (const p of points) { ctx.fillStyle = colour; ctx.fillRect(x(p.step) - 2, y(p) - 2, 4, 4); }
  };
  line('#f0a040', (p) => yl(p.loss));
  line('#4aa3ff', (p) => ya(p.agreement));
  ctx.fillStyle = '#f0a040';
  ctx.fillText(hi.toPrecision(3), 2, pad.t + 8); ctx.fillText(lo.toPrecision(3), 2, H - pad.b);
  ctx.fillText('loss', 2, H / 2);
  ctx.fillStyle = '#4aa3ff';
  ctx.fillText('1', W - pad.r + 4, pad.t + 8); ctx.fillText('0', W - pad.r + 4, H - pad.b);
  ctx.fillText('agree', W - pad.r + 2, H / 2);
  ctx.fillStyle = '#9aa4b5';
  ctx.fillText('0', pad.l - 3, H - 6); ctx.fillText(String(steps), W - pad.r - 8, H - 6);
  if (result && Number.isFinite(result.agreement)) {
    const rx = x(result.step), ry = ya(result.agreement);
    ctx.strokeStyle = '#7ee2a0'; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(rx, ry, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = '#7ee2a0';
    const label = `result ${(100 * result.agreement).toFixed(1)} %`;
    ctx.fillText(label, Math.min(rx + 9, W - pad.r - ctx.measureText(label).width), Math.max(pad.t + 10, ry - 8));
  }
}

/**
 * Pixel coordinates of a pointer event on a canvas displayed at any CSS size (its picture
 * fitted into its box with `object-fit: contain`, or filling it).
 * @param {HTMLCanvasElement} canvas @param {MouseEvent} ev
 */
export function pixelAt(canvas, ev) {
  const r = canvas.getBoundingClientRect();
  const s = Math.min(r.width / canvas.width, r.height / canvas.height);
  const ox = r.left + (r.width - canvas.width * s) / 2, oy = r.top + (r.height - canvas.height * s) / 2;
  const x = Math.floor((ev.clientX - ox) / s), y = Math.floor((ev.clientY - oy) / s);
  return { x: Math.max(0, Math.min(canvas.width - 1, x)), y: Math.max(0, Math.min(canvas.height - 1, y)) };
}

/** Format a metric for the table. @param {number} v @param {number} [digits] */
export function fmt(v, digits = 4) {
  if (v === Infinity) return '∞';
  if (!Number.isFinite(v)) return '—';
  return v.toFixed(digits);
}
