// The views: images and maps of the batch, of an attack or of a scaling attack, drawn into the
// tiles by tile.js (area-averaged to the tile's size); the tiles a result does not use are
// hidden; captions name the image and the target. The class under the pointer (hover, or a tap
// on touch screens) and the classes present in each map are read out beside them.
import { state, $, selectedIndex } from './state.js';
import { updatePaint } from './paint.js';
import * as view from './view.js';
import * as tile from './tile.js';
import { renderGrid } from './grid.js';
import { renderHeadline } from './headline.js';
import { showZoom } from './zoom.js';

/** @typedef {import('./state.js').AttackResult} AttackResult */
/** @typedef {import('./state.js').ScalingResult} ScalingResult */

const VIEWS = ['original', 'adversarial', 'clean', 'adversarial-map', 'target-map', 'defended-map', 'perturbation', 'overlay'];
/** Views that stay in place when empty (the four of the main grid). */
const MAIN = new Set(['original', 'adversarial', 'clean', 'adversarial-map']);

/** @param {string} name @returns {HTMLElement} */
function figure(name) { return /** @type {HTMLElement} */ (document.querySelector(`figure[data-view="${name}"]`)); }

/** @param {string} name @param {string} text */
function caption(name, text) {
  const cap = /** @type {HTMLElement} */ (figure(name).querySelector('figcaption'));
  const slider = cap.querySelector('input');
  cap.replaceChildren(document.createTextNode(text + ' '), ...(slider ? [slider] : []));
}

/** Draw `img` in a view, or empty it (a secondary view without a picture is hidden). @param {string} name @param {ImageData | null} img */
function show(name, img) {
  const fig = figure(name);
  const canvas = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
  fig.classList.toggle('empty', !img);
  fig.hidden = !img && !MAIN.has(name);
  if (img) tile.paint(canvas, img); else tile.blank(canvas);
}

/**
 * The classes of a map with their shares, largest first (those under 0.5 % left out).
 * @param {Uint8Array} map @param {string[]} names
 * @returns {{c: number, name: string, share: number}[]}
 */
export function presentClasses(map, names) {
  const counts = new Map();
  for (const c of map) counts.set(c, (counts.get(c) || 0) + 1);
  return [...counts.entries()]
    .map(([c, n]) => ({ c, name: c < names.length ? names[c] : 'void', share: n / map.length }))
    .filter((e) => e.share >= 0.005)
    .sort((a, b) => b.share - a.share);
}

/** The chips under a map view: its classes in their colours, with shares. @param {string} name @param {Uint8Array | null} map */
function chips(name, map) {
  const box = figure(name).querySelector('.chips');
  if (!box) return;
  if (!map || !state.info) { box.replaceChildren(); return; }
  const pal = state.info.palette;
  box.replaceChildren(...presentClasses(map, state.info.classes).slice(0, 6).map((e) => {
    const chip = document.createElement('span');
    chip.className = 'chip';
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${(pal[e.c] || view.VOID_COLOUR).join(',')})`;
    chip.append(sw, document.createTextNode(`${e.name} ${Math.round(100 * e.share)} %`));
    return chip;
  }));
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

/** The target of a targeted report in words. @param {any} rep */
function targetName(rep) {
  const s = rep.spec || {};
  if (s.goal === 'targeted-class') return `class “${rep.target_class_name || s.target_class}” everywhere`;
  if (s.goal === 'targeted-image') return `the clean map of ${rep.target_image || `image ${s.target_index}`}`;
  if (s.goal === 'targeted-map') return `the painted map${s.keep_unpainted ? ' (unpainted pixels keep their class)' : ''}`;
  return 'the target';
}

/**
 * On a desktop window, the height of the four main tiles such that they and their caption
 * lines end inside the first viewport, below the header, the landing and the headline (a phone
 * sizes them by width).
 */
export function fitTiles() {
  const root = document.documentElement;
  if (innerWidth <= 760) { root.style.removeProperty('--tile-h'); return; }
  const grid = $('views');
  const figs = /** @type {HTMLElement[]} */ ([...grid.querySelectorAll(':scope > figure')]);
  const below = (/** @type {HTMLElement} */ f) => f.offsetHeight - /** @type {HTMLElement} */ (f.firstElementChild).offsetHeight;
  const rows = [Math.max(below(figs[0]), below(figs[1])), Math.max(below(figs[2]), below(figs[3]))];
  const top = grid.getBoundingClientRect().top + scrollY;
  const gap = 8, margin = 6;
  const h = Math.floor((innerHeight - top - rows[0] - rows[1] - gap - margin) / 2);
  root.style.setProperty('--tile-h', `${Math.max(160, Math.min(480, h))}px`);
}

/** Draw every view from the state: the segmentation, and the last attack or scaling attack. */
export function renderViews() {
  renderGrid();
  renderHeadline();
  try { drawViews(); } finally { fitTiles(); }
}

/** The views' pictures and captions. */
function drawViews() {
  const pal = state.info ? state.info.palette : [];
  const alpha = Number($('overlay-alpha').value) / 100;
  if (state.resultKind === 'scaling') return renderScaling(/** @type {ScalingResult} */ (state.result), pal, alpha);
  showZoom(null);
  const i = selectedIndex();
  const c = state.clean;
  if (!c || !c.images[i]) {
    for (const v of VIEWS) show(v, null);
    for (const v of ['clean', 'adversarial-map']) chips(v, null);
    caption('original', 'original'); caption('adversarial', 'adversarial'); caption('clean', 'clean map'); caption('adversarial-map', 'adversarial map');
    return;
  }
  const name = state.images[i] ? state.images[i].name : `image ${i + 1}`;
  const { width: w, height: h } = c;
  caption('original', `original: ${name}`);
  show('original', view.rgbImage(c.images[i], w, h));
  show('clean', view.mapImage(c.maps[i], w, h, pal));
  caption('clean', 'clean map (what the network sees)');
  chips('clean', c.maps[i]);
  const a = /** @type {AttackResult | null} */ (state.resultKind === 'attack' ? state.result : null);
  const r = a && a.width === w && a.height === h ? a : null;
  if (r && r.adversarial[i]) {
    const rep = r.report;
    show('adversarial', view.rgbImage(r.adversarial[i], w, h));
    caption('adversarial', `adversarial (8-bit, changes ≤ ${Math.round(rep.images[i].quantized.linf * 255)}/255)`);
    showPerturbation(r.adversarial[i], r.images[i], w, h);
    show('adversarial-map', view.mapImage(r.adversarial_maps[i], w, h, pal));
    caption('adversarial-map', 'adversarial map (what it sees now)');
    chips('adversarial-map', r.adversarial_maps[i]);
    show('target-map', rep.targeted ? view.mapImage(r.reference_maps[i], w, h, pal) : null);
    caption('target-map', `target map: ${targetName(rep)}`);
    show('overlay', view.overlayImage(r.adversarial[i], r.adversarial_maps[i], w, h, pal, alpha));
    caption('overlay', 'overlay: adversarial map on the adversarial image');
    const d = rep.defense;
    show('defended-map', d && r.defended_adversarial_maps ? view.mapImage(r.defended_adversarial_maps[i], w, h, pal) : null);
    caption('defended-map', d ? `defended map (${d.label}${d.adaptive ? ', adaptive attack' : ''})` : 'defended map');
  } else {
    for (const v of ['adversarial', 'perturbation', 'adversarial-map', 'target-map', 'defended-map', 'overlay']) show(v, null);
    caption('adversarial', 'adversarial: press Run'); caption('adversarial-map', 'adversarial map');
    chips('adversarial-map', null);
  }
  updatePaint();
}

/** @param {ScalingResult} r @param {number[][]} pal @param {number} alpha */
function renderScaling(r, pal, alpha) {
  const img = (/** @type {import('./state.js').Picture} */ o) => view.rgbImage(o.rgb, o.width, o.height);
  const map = (/** @type {import('./state.js').MapPicture} */ m) => view.mapImage(m.classes, m.width, m.height, pal);
  const src = state.images[0] ? state.images[0].name : 'image 1';
  const hidden = r.wanted ? 'the crafted target' : state.images[1] ? state.images[1].name : 'image 2';
  show('defended-map', null);
  show('original', img(r.source)); caption('original', `source: ${src} (${r.source.width}×${r.source.height})`);
  show('adversarial', img(r.attack)); caption('adversarial', `attack image (${r.attack.width}×${r.attack.height}), hiding ${hidden}`);
  showZoom(r.attack);
  showPerturbation(r.attack.rgb, r.source.rgb, r.attack.width, r.attack.height);
  show('clean', map(r.maps.none_source)); caption('clean', 'map of the downscaled source');
  chips('clean', r.maps.none_source.classes);
  show('adversarial-map', map(r.maps.none_attack)); caption('adversarial-map', 'map of the downscaled attack image');
  chips('adversarial-map', r.maps.none_attack.classes);
  show('target-map', r.wanted ? map(r.wanted.map) : map(r.maps.target));
  caption('target-map', r.wanted ? 'wanted map' : `map of the target (${hidden})`);
  const seen = r.inputs.none_attack;
  show('overlay', view.overlayImage(seen.rgb, r.maps.none_attack.classes, seen.width, seen.height, pal, alpha));
  caption('overlay', 'what the network sees (downscaled attack) + its map');
  updatePaint();
}

/**
 * The class names under canvas pixel (x, y) of a view, for the readout line.
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
  const i = selectedIndex(), { width: w, height: h } = c;
  const parts = [`clean: ${at(c.maps[i], w, h)}`];
  const r = /** @type {AttackResult | null} */ (state.resultKind === 'attack' ? state.result : null);
  if (r && r.adversarial_maps[i] && r.width === w && r.height === h) parts.push(`adversarial: ${at(r.adversarial_maps[i], w, h)}`);
  return parts;
}

/** Wire the class readout (hover, or tap / click on touch screens), the overlay slider and the naive-viewer toggle. */
export function wireViews() {
  for (const fig of document.querySelectorAll('.results figure')) {
    const canvas = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
    const read = (/** @type {MouseEvent} */ ev) => {
      if (!state.info || !state.clean || fig.classList.contains('empty')) return;
      const { x, y } = view.pixelAt(canvas, ev);
      $('hover').textContent = classesUnder(canvas, x, y).join(' · ');
    };
    canvas.addEventListener('mousemove', read);
    canvas.addEventListener('pointerdown', read);
  }
  $('overlay-alpha').addEventListener('input', renderViews);
  addEventListener('resize', fitTiles);
  $('naive-view').addEventListener('change', () => tile.setFilter($('naive-view').checked ? 'nearest' : 'area'));
}
