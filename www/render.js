// The views: images and maps of the batch, of an attack or of a scaling attack, and the class
// under the cursor.
import { state, $, selectedIndex } from './state.js';
import { updatePaint } from './paint.js';
import * as view from './view.js';
import { renderGrid } from './grid.js';

/** @typedef {import('./state.js').AttackResult} AttackResult */
/** @typedef {import('./state.js').ScalingResult} ScalingResult */

const VIEWS = ['original', 'adversarial', 'perturbation', 'clean', 'adversarial-map', 'target-map', 'defended-map', 'overlay'];

/** @param {string} name @returns {HTMLElement} */
function figure(name) { return /** @type {HTMLElement} */ (document.querySelector(`figure[data-view="${name}"]`)); }

/** @param {string} name @param {string} text */
function caption(name, text) {
  const cap = /** @type {HTMLElement} */ (figure(name).querySelector('figcaption'));
  const slider = cap.querySelector('input');
  cap.replaceChildren(document.createTextNode(text + ' '), ...(slider ? [slider] : []));
}

/** Draw `img` in a view, or empty it. @param {string} name @param {ImageData | null} img */
function show(name, img) {
  const fig = figure(name);
  const canvas = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
  fig.classList.toggle('empty', !img);
  if (img) view.draw(canvas, img); else view.clear(canvas);
}

/**
 * The perturbation view of `adv` against `orig`, with its factor in the caption.
 * @param {Uint8Array} adv @param {Uint8Array} orig @param {number} w @param {number} h
 */
function showPerturbation(adv, orig, w, h) {
  const p = view.perturbationImage(adv, orig, w, h);
  show('perturbation', p.image);
  caption('perturbation', `perturbation ×${p.factor} (max ${p.max}/255)`);
}

/** Draw every view from the state: the segmentation, and the last attack or scaling attack. */
export function renderViews() {
  renderGrid();
  const pal = state.info ? state.info.palette : [];
  const alpha = Number($('overlay-alpha').value) / 100;
  if (state.resultKind === 'scaling') return renderScaling(/** @type {ScalingResult} */ (state.result), pal, alpha);
  const i = selectedIndex();
  caption('original', 'original'); caption('adversarial', 'adversarial'); caption('clean', 'clean map');
  caption('adversarial-map', 'adversarial map'); caption('target-map', 'target map');
  const c = state.clean;
  if (!c || !c.images[i]) {
    for (const v of VIEWS) show(v, null);
    return;
  }
  const { width: w, height: h } = c;
  show('original', view.rgbImage(c.images[i], w, h));
  show('clean', view.mapImage(c.maps[i], w, h, pal));
  const a = /** @type {AttackResult | null} */ (state.resultKind === 'attack' ? state.result : null);
  const r = a && a.width === w && a.height === h ? a : null;
  if (r && r.adversarial[i]) {
    show('adversarial', view.rgbImage(r.adversarial[i], w, h));
    showPerturbation(r.adversarial[i], r.images[i], w, h);
    show('adversarial-map', view.mapImage(r.adversarial_maps[i], w, h, pal));
    show('target-map', r.report.targeted ? view.mapImage(r.reference_maps[i], w, h, pal) : null);
    show('overlay', view.overlayImage(r.adversarial[i], r.adversarial_maps[i], w, h, pal, alpha));
    caption('overlay', 'overlay: adversarial map on the adversarial image');
    const d = r.report.defense;
    show('defended-map', d && r.defended_adversarial_maps ? view.mapImage(r.defended_adversarial_maps[i], w, h, pal) : null);
    caption('defended-map', d ? `defended map (${d.label}${d.adaptive ? ', adaptive attack' : ''})` : 'defended map');
  } else {
    for (const v of ['adversarial', 'perturbation', 'adversarial-map', 'target-map', 'defended-map']) show(v, null);
    caption('perturbation', 'perturbation');
    show('overlay', view.overlayImage(c.images[i], c.maps[i], w, h, pal, alpha));
    caption('overlay', 'overlay: clean map on the image');
  }
  updatePaint();
}

/** @param {ScalingResult} r @param {number[][]} pal @param {number} alpha */
function renderScaling(r, pal, alpha) {
  const img = (/** @type {import('./state.js').Picture} */ o) => view.rgbImage(o.rgb, o.width, o.height);
  const map = (/** @type {import('./state.js').MapPicture} */ m) => view.mapImage(m.classes, m.width, m.height, pal);
  show('defended-map', null); caption('defended-map', 'defended map');
  show('original', img(r.source)); caption('original', `source (${r.source.width}×${r.source.height})`);
  show('adversarial', img(r.attack)); caption('adversarial', `attack image (${r.attack.width}×${r.attack.height})`);
  showPerturbation(r.attack.rgb, r.source.rgb, r.attack.width, r.attack.height);
  show('clean', map(r.maps.none_source)); caption('clean', 'map of the downscaled source');
  show('adversarial-map', map(r.maps.none_attack)); caption('adversarial-map', 'map of the downscaled attack image');
  show('target-map', r.wanted ? map(r.wanted.map) : map(r.maps.target));
  caption('target-map', r.wanted ? 'wanted map' : 'map of the target image');
  const seen = r.inputs.none_attack;
  show('overlay', view.overlayImage(seen.rgb, r.maps.none_attack.classes, seen.width, seen.height, pal, alpha));
  caption('overlay', 'what the network sees (downscaled attack) + its map');
  updatePaint();
}

/**
 * The class names under canvas pixel (x, y) of a canvas showing maps, for the hover line.
 * @param {HTMLCanvasElement} canvas @param {number} x @param {number} y
 * @returns {string[]}
 */
function classesUnder(canvas, x, y) {
  const names = /** @type {import('./state.js').ModelInfo} */ (state.info).classes;
  const at = (/** @type {Uint8Array} */ m, /** @type {number} */ mw, /** @type {number} */ mh) => {
    const mx = Math.floor(x * mw / canvas.width), my = Math.floor(y * mh / canvas.height);
    const c = m[my * mw + mx];
    return c < names.length ? names[c] : 'void';
  };
  if (state.resultKind === 'scaling') {
    const { none_source: s, none_attack: a } = /** @type {ScalingResult} */ (state.result).maps;
    return [`source: ${at(s.classes, s.width, s.height)}`, `attack: ${at(a.classes, a.width, a.height)}`];
  }
  const c = /** @type {import('./state.js').Segmentation} */ (state.clean);
  const i = state.selected, { width: w, height: h } = c;
  const parts = [`clean: ${at(c.maps[i], w, h)}`];
  if (state.resultKind === 'attack') parts.push(`adversarial: ${at(/** @type {AttackResult} */ (state.result).adversarial_maps[i], w, h)}`);
  return parts;
}

/** Wire the hover line (the class under the cursor in the clean and adversarial maps) and the overlay slider. */
export function wireViews() {
  for (const fig of document.querySelectorAll('#views figure')) {
    const canvas = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
    canvas.addEventListener('mousemove', (ev) => {
      if (!state.info || !state.clean) return;
      const { x, y } = view.pixelAt(canvas, ev);
      $('hover').textContent = [`(${x}, ${y})`, ...classesUnder(canvas, x, y)].join(' · ');
    });
  }
  $('overlay-alpha').addEventListener('input', renderViews);
}
