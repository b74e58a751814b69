// The page: inputs, model and mode choice, running attacks in the worker, showing results.
import { Api } from './api.js';
import * as view from './view.js';

const MAX_IMAGES = 4;
const SCALERS = ['opencv-nearest', 'opencv-linear', 'opencv-cubic', 'opencv-area', 'opencv-lanczos4',
  'pillow-nearest', 'pillow-bilinear', 'pillow-bicubic', 'pillow-box', 'pillow-lanczos'];
/** Models offered first, one per dataset family (all zoo models follow). */
const DEFAULT_MODEL = 'espnetv2-voc';

/** @param {string} id */
const $ = (id) => /** @type {any} */ (document.getElementById(id));

/**
 * @typedef {{name: string, bytes: Uint8Array, width: number, height: number, url: string}} Input
 */
const state = {
  /** @type {Input[]} */ images: [],
  /** @type {{name: string, title: string, dataset: string, file: string}[]} */ models: [],
  /** @type {any} model info from the worker */ info: null,
  backend: '',
  /** @type {[number, number] | null} working size */ size: null,
  /** @type {any} */ clean: null,
  /** @type {any} */ result: null,
  /** @type {'attack' | 'scaling' | null} */ resultKind: null,
  selected: 0,
  mode: 'untargeted',
  /** @type {Uint8Array | null} painted target map (255 = unpainted) */ painted: null,
  paintClass: 15,
  busy: false,
  /** @type {{step: number, loss: number, agreement: number}[]} */ points: [],
  /** @type {number} */ firstSegmentationMs: NaN,
  t0: performance.now(),
};

const api = new Api();
api.onFatal = (msg) => {
  if (msg.startsWith('cancelled')) { setStage('cancelled; reloading the model'); return; }
  showError(msg);
  setBusy(false);
  loadModel().catch(showError);
};

// ---------------------------------------------------------------- errors and status

/** @param {any} err */
function showError(err) {
  const msg = err instanceof Error ? err.message : String(err);
  $('banner-text').textContent = msg;
  $('banner').hidden = false;
  console.error(msg);
}
function hideError() { $('banner').hidden = true; }
$('banner-close').addEventListener('click', hideError);

/** @param {string} text */
function setStage(text) { $('stage').textContent = text; }

/** @param {boolean} busy */
function setBusy(busy) {
  state.busy = busy;
  $('run').disabled = busy || !state.info || state.images.length === 0;
  $('cancel').disabled = !busy;
  document.body.classList.toggle('busy', busy);
}

/**
 * Run an async action with the banner as the error sink; the page keeps working afterwards.
 * @param {() => Promise<void>} fn
 */
async function guarded(fn) {
  try {
    await fn();
  } catch (err) {
    setBusy(false);
    if (err instanceof Error && err.message.startsWith('cancelled')) setStage('cancelled');
    else showError(err);
  }
}

/**
 * Put files into the service worker's cache so that the page works offline (the weights and
 * samples the worker fetched before the service worker took control).
 * @param {string[]} urls
 */
async function cacheForOffline(urls) {
  if (!('caches' in globalThis)) return;
  try { const c = await caches.open('advseg-v1'); await c.addAll(urls); } catch (e) { console.warn('offline cache:', e); }
}

// ---------------------------------------------------------------- model

async function loadModel() {
  const name = $('model').value || DEFAULT_MODEL;
  setBusy(true);
  setStage(`loading ${name}…`);
  const r = await api.load(name, $('backend-choice').value, (p) => setStage(p.stage));
  state.info = r.info;
  state.backend = r.backend;
  $('backend').textContent = r.backend;
  $('backend').className = `badge ${r.webgpu ? 'gpu' : 'cpu'}`;
  const note = $('gpu-note');
  const software = r.webgpu && /software|swiftshader|llvmpipe/i.test(r.backend);
  note.hidden = r.webgpu && !software;
  note.textContent = software
    ? 'This WebGPU adapter is a software emulation: it is much slower than a real GPU (choose CPU in the backend menu if it is too slow).'
    : r.webgpu ? '' : `Running on the CPU (single-threaded, slower): ${r.note}. ` +
      'For WebGPU use a recent Chrome/Edge (or Chromium with --enable-unsafe-webgpu).';
  view.legend($('legend'), r.info.classes, r.info.palette, (c) => pickClass(c));
  for (const sel of document.querySelectorAll('.class-select')) {
    const s = /** @type {HTMLSelectElement} */ (sel);
    const keep = s.value;
    s.replaceChildren(...r.info.classes.map((/** @type {string} */ n, /** @type {number} */ i) => new Option(`${i} ${n}`, String(i))));
    s.value = keep && Number(keep) < r.info.classes.length ? keep : String(Math.min(15, r.info.classes.length - 1));
  }
  state.paintClass = Number($('paint-class').value);
  const entry = state.models.find((/** @type {any} */ m) => m.name === name);
  if (entry) cacheForOffline([`weights/${entry.file}`]);
  setStage(`${name} loaded in ${r.seconds.toFixed(1)} s`);
  setBusy(false);
  await segment();
}

/** @param {number} c */
function pickClass(c) {
  state.paintClass = c;
  $('paint-class').value = String(c);
  if (state.mode === 'targeted') $('target-class').value = String(c);
}

// ---------------------------------------------------------------- inputs

/**
 * Add image files (File/Blob with a name) to the batch.
 * @param {{name: string, blob: Blob}[]} files
 */
async function addImages(files) {
  for (const { name, blob } of files) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let bitmap;
    try {
      bitmap = await createImageBitmap(new Blob([bytes], { type: blob.type || 'application/octet-stream' }));
    } catch {
      throw new Error(`"${name}" (${bytes.length} bytes) is not an image this page can read (PNG or JPEG expected)`);
    }
    const input = { name, bytes, width: bitmap.width, height: bitmap.height, url: URL.createObjectURL(new Blob([bytes])) };
    bitmap.close();
    if (state.images.length >= MAX_IMAGES) {
      const old = state.images.pop();
      if (old) URL.revokeObjectURL(old.url);
    }
    state.images.push(input);
  }
  renderBatch();
  await segment();
}

function renderBatch() {
  const batch = $('batch');
  batch.replaceChildren(...state.images.map((im, i) => {
    const fig = document.createElement('figure');
    fig.className = i === state.selected ? 'thumb selected' : 'thumb';
    const img = document.createElement('img');
    img.src = im.url; img.alt = im.name;
    const cap = document.createElement('figcaption');
    cap.textContent = `${i + 1}. ${im.name} (${im.width}×${im.height})`;
    const rm = document.createElement('button');
    rm.textContent = '×'; rm.title = 'remove'; rm.className = 'remove';
    rm.addEventListener('click', (ev) => {
      ev.stopPropagation();
      URL.revokeObjectURL(im.url);
      state.images.splice(i, 1);
      state.selected = Math.min(state.selected, Math.max(0, state.images.length - 1));
      renderBatch();
      guarded(segment);
    });
    fig.append(img, cap, rm);
    fig.addEventListener('click', () => { state.selected = i; renderBatch(); renderViews(); });
    return fig;
  }));
  $('target-index').replaceChildren(...state.images.map((im, i) => new Option(`${i + 1} (${im.name})`, String(i))));
  setBusy(state.busy);
}

async function loadGallery() {
  const res = await fetch('samples/index.json');
  if (!res.ok) { $('gallery').textContent = 'no samples (run scripts/demo.sh)'; return; }
  /** @type {{file: string, name: string}[]} */
  const list = await res.json();
  cacheForOffline(['samples/index.json', ...list.map((s) => `samples/${s.file}`)]);
  $('gallery').replaceChildren(...list.map((s) => {
    const img = document.createElement('img');
    img.src = `samples/${s.file}`; img.alt = s.name; img.title = `add ${s.name}`; img.loading = 'lazy';
    img.addEventListener('click', () => guarded(() => addSample(s)));
    return img;
  }));
  return list;
}

/** @param {{file: string, name: string}} s */
async function addSample(s) {
  const res = await fetch(`samples/${s.file}`);
  cacheForOffline([`samples/${s.file}`]);
  if (!res.ok) throw new Error(`samples/${s.file}: HTTP ${res.status}`);
  await addImages([{ name: s.name, blob: await res.blob() }]);
}

$('file').addEventListener('change', (/** @type {Event} */ ev) => {
  const files = [.../** @type {HTMLInputElement} */ (ev.target).files || []];
  guarded(() => addImages(files.map((f) => ({ name: f.name, blob: f }))));
  /** @type {HTMLInputElement} */ (ev.target).value = '';
});
const drop = $('drop');
drop.addEventListener('dragover', (/** @type {DragEvent} */ ev) => { ev.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (/** @type {DragEvent} */ ev) => {
  ev.preventDefault(); drop.classList.remove('over');
  const files = [...(ev.dataTransfer?.files || [])];
  guarded(() => addImages(files.map((f) => ({ name: f.name, blob: f }))));
});
document.addEventListener('paste', (ev) => {
  const files = [...(ev.clipboardData?.files || [])];
  if (files.length) guarded(() => addImages(files.map((f, i) => ({ name: f.name || `pasted-${i + 1}.png`, blob: f }))));
});

// ---------------------------------------------------------------- segmentation

async function segment() {
  // new inputs: the last result, its chart and metrics no longer apply
  state.result = null; state.resultKind = null;
  renderMetrics();
  view.chart($('chart'), [], 1);
  $('hover').textContent = 'hover a view to see the class under the cursor';
  if (!state.info || state.images.length === 0) { renderViews(); return; }
  const first = state.images[0];
  const size = await api.call('inputSize', { width: first.width, height: first.height, maxSide: Number($('max-side').value) });
  state.size = [size[0], size[1]];
  $('size-info').textContent = `Working size ${size[0]}×${size[1]} (from image 1's ${first.width}×${first.height}; ` +
    `${state.info.sizeRule}); every image of the batch is resized to it.`;
  if (!state.painted || state.painted.length !== size[0] * size[1]) state.painted = new Uint8Array(size[0] * size[1]).fill(255);
  setBusy(true);
  const images = state.images.map((im) => im.bytes.slice());
  try {
    const r = await api.call('segment', { images, width: size[0], height: size[1] }, (p) => setStage(p.stage));
    state.clean = r;
    if (Number.isNaN(state.firstSegmentationMs)) {
      state.firstSegmentationMs = performance.now() - state.t0;
      document.body.dataset.firstSegmentationMs = String(Math.round(state.firstSegmentationMs));
    }
    setStage(`segmented ${images.length} image(s) in ${r.seconds.toFixed(2)} s`);
    document.body.dataset.segmentations = String(Number(document.body.dataset.segmentations || 0) + 1);
  } finally {
    setBusy(false);
  }
  renderViews();
}

// ---------------------------------------------------------------- modes and running

for (const tab of document.querySelectorAll('.tabs button')) {
  tab.addEventListener('click', () => {
    state.mode = /** @type {HTMLElement} */ (tab).dataset.mode || 'untargeted';
    for (const t of document.querySelectorAll('.tabs button')) t.classList.toggle('active', t === tab);
    $('targeted-opts').hidden = state.mode !== 'targeted';
    $('scaling-opts').hidden = state.mode !== 'scaling';
    updatePgdVisibility();
    updatePaint();
  });
}
for (const r of document.querySelectorAll('input[name=tkind]')) r.addEventListener('change', updatePaint);
$('scaling-target').addEventListener('change', () => { updatePgdVisibility(); updatePaint(); });
/** PGD settings matter except when the scaling attack hides a given image. */
function updatePgdVisibility() {
  $('pgd-opts').hidden = state.mode === 'scaling' && $('scaling-target').value === 'image';
}
$('scaler').replaceChildren(...SCALERS.map((s) => new Option(s, s)));
$('scaler').value = 'opencv-linear';
$('norm').addEventListener('change', () => {
  // sensible radii per norm (L2 over all 3·H·W values, in /255 units)
  const l2 = $('norm').value === 'l2';
  $('eps').value = l2 ? '255' : '8';
  $('step-size').value = l2 ? '64' : '2';
});

function targetKind() {
  const r = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name=tkind]:checked'));
  return r ? r.value : 'image';
}

function pgdOptions() {
  const num = (/** @type {string} */ id) => Number($(id).value);
  const stepSize = num('step-size');
  return {
    eps: num('eps'), steps: Math.round(num('steps')), stepSize: stepSize > 0 ? stepSize : undefined,
    loss: $('loss').value, norm: $('norm').value, randomStart: $('random-start').checked,
  };
}

/** The defense toggles as attack options (nothing when no defense is chosen). */
function defenseOptions() {
  const multiscale = $('def-multiscale').checked;
  const reconstruct = $('def-reconstruct').value;
  if (!multiscale && !reconstruct) return {};
  return { multiscale, reconstruct, adaptive: $('def-adaptive').checked };
}

async function run() {
  if (!state.size || state.images.length === 0) throw new Error('add an image first');
  hideError();
  setBusy(true);
  state.points = [];
  const [w, h] = state.size;
  const pgd = pgdOptions();
  view.chart($('chart'), [], pgd.steps);
  $('progress').value = 0;
  /** @param {any} p */
  const onProgress = (p) => {
    $('progress').value = p.fraction ?? 0;
    if (p.stage === 'attack') {
      state.points.push({ step: p.step, loss: p.loss, agreement: p.agreement });
      view.chart($('chart'), state.points, p.steps);
      setStage(`step ${p.step}/${p.steps} · loss ${p.loss.toFixed(4)} · agreement ${(100 * p.agreement).toFixed(1)} %`);
    } else setStage(p.stage);
  };
  try {
    if (state.mode === 'scaling') {
      if (state.images.length < 1) throw new Error('the scaling attack needs a source image (image 1)');
      const target = $('scaling-target').value;
      if (target === 'image' && state.images.length < 2) throw new Error('the scaling attack hides image 2 in image 1: add a second image (or choose a class target)');
      const options = {
        scaler: $('scaler').value, ratio: Number($('ratio').value), eps: Number($('scaling-eps').value),
        target, targetClass: Number($('scaling-class').value), pgd: { ...pgd, mode: 'targeted-map', keepUnpainted: false },
      };
      const r = await api.call('scaling', {
        source: state.images[0].bytes.slice(), target: target === 'image' ? state.images[1].bytes.slice() : null,
        options, wantedMap: target === 'map' ? paintedAt(r0size()) : null,
      }, onProgress);
      state.result = r; state.resultKind = 'scaling';
      setStage(`scaling attack done in ${r.seconds.toFixed(1)} s`);
    } else {
      const kind = targetKind();
      const mode = state.mode === 'untargeted' ? 'untargeted' : `targeted-${kind}`;
      const options = {
        ...pgd, mode, targetIndex: Number($('target-index').value || 0), targetClass: Number($('target-class').value || 0),
        keepUnpainted: $('unpainted').value === 'keep', ...defenseOptions(),
      };
      const r = await api.call('attack', {
        images: state.images.map((im) => im.bytes.slice()), width: w, height: h, options,
        targetMap: mode === 'targeted-map' ? state.painted : null,
      }, onProgress);
      state.result = r; state.resultKind = 'attack';
      const rate = r.stepsRun / r.seconds;
      setStage(`${r.stepsRun} steps in ${r.seconds.toFixed(1)} s (${rate.toFixed(2)} steps/s on ${state.backend})`);
      document.body.dataset.stepsPerSecond = rate.toFixed(3);
    }
    $('progress').value = 1;
  } finally {
    setBusy(false);
  }
  renderViews();
  renderMetrics();
}

/** The model size of the scaling experiment (256×256 where the model takes it). */
function r0size() {
  return state.info && state.info.name.startsWith('deeplab') ? [257, 257] : [256, 256];
}

/**
 * The painted map nearest-resized to `size` (the scaling attack works at the model size).
 * @param {number[]} size
 */
function paintedAt([tw, th]) {
  if (!state.painted || !state.size) return null;
  const [w, h] = state.size;
  const out = new Uint8Array(tw * th);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) {
    out[y * tw + x] = state.painted[Math.floor((y + 0.5) * h / th) * w + Math.floor((x + 0.5) * w / tw)];
  }
  return out;
}

$('run').addEventListener('click', () => guarded(run));
$('cancel').addEventListener('click', () => { setStage('cancelling…'); api.cancel(); });
$('model').addEventListener('change', () => guarded(loadModel));
$('backend-choice').addEventListener('change', () => guarded(loadModel));
$('max-side').addEventListener('change', () => guarded(segment));
$('overlay-alpha').addEventListener('input', renderViews);

// ---------------------------------------------------------------- views

/** @param {string} name */
function figure(name) { return /** @type {HTMLElement} */ (document.querySelector(`figure[data-view="${name}"]`)); }
/** @param {string} name */
function canvasOf(name) { return /** @type {HTMLCanvasElement} */ (figure(name).querySelector('canvas')); }
/** @param {string} name @param {string} text */
function caption(name, text) {
  const cap = /** @type {HTMLElement} */ (figure(name).querySelector('figcaption'));
  const slider = cap.querySelector('input');
  cap.replaceChildren(document.createTextNode(text + ' '), ...(slider ? [slider] : []));
}
/** @param {string} name @param {ImageData | null} img */
function show(name, img) {
  const fig = figure(name);
  fig.classList.toggle('empty', !img);
  if (img) view.draw(canvasOf(name), img); else view.clear(canvasOf(name));
}

function renderViews() {
  const pal = state.info ? state.info.palette : [];
  const alpha = Number($('overlay-alpha').value) / 100;
  const i = Math.min(state.selected, Math.max(0, state.images.length - 1));
  if (state.resultKind === 'scaling') return renderScaling(pal, alpha);
  caption('original', 'original'); caption('adversarial', 'adversarial'); caption('clean', 'clean map');
  caption('adversarial-map', 'adversarial map'); caption('target-map', 'target map');
  const c = state.clean;
  if (!c || !c.images[i]) {
    for (const v of ['original', 'adversarial', 'perturbation', 'clean', 'adversarial-map', 'target-map', 'defended-map', 'overlay']) show(v, null);
    return;
  }
  const { width: w, height: h } = c;
  show('original', view.rgbImage(c.images[i], w, h));
  show('clean', view.mapImage(c.maps[i], w, h, pal));
  const r = state.resultKind === 'attack' && state.result && state.result.width === w && state.result.height === h ? state.result : null;
  if (r && r.adversarial[i]) {
    show('adversarial', view.rgbImage(r.adversarial[i], w, h));
    const p = view.perturbationImage(r.adversarial[i], r.images[i], w, h);
    show('perturbation', p.image);
    caption('perturbation', `perturbation ×${p.factor} (max ${p.max}/255)`);
    show('adversarial-map', view.mapImage(r.adversarialMaps[i], w, h, pal));
    show('target-map', r.targeted ? view.mapImage(r.referenceMaps[i], w, h, pal) : null);
    show('overlay', view.overlayImage(r.adversarial[i], r.adversarialMaps[i], w, h, pal, alpha));
    caption('overlay', 'overlay: adversarial map on the adversarial image');
    show('defended-map', r.defense ? view.mapImage(r.defense.adversarialMaps[i], w, h, pal) : null);
    caption('defended-map', r.defense ? `defended map (${r.defense.label}${r.defense.adaptive ? ', adaptive attack' : ''})` : 'defended map');
  } else {
    for (const v of ['adversarial', 'perturbation', 'adversarial-map', 'target-map', 'defended-map']) show(v, null);
    caption('perturbation', 'perturbation');
    show('overlay', view.overlayImage(c.images[i], c.maps[i], w, h, pal, alpha));
    caption('overlay', 'overlay: clean map on the image');
  }
  updatePaint();
}

/** @param {number[][]} pal @param {number} alpha */
function renderScaling(pal, alpha) {
  const r = state.result;
  const img = (/** @type {any} */ o) => view.rgbImage(o.rgb, o.width, o.height);
  const map = (/** @type {any} */ m) => view.mapImage(m.classes, m.width, m.height, pal);
  show('defended-map', null); caption('defended-map', 'defended map');
  show('original', img(r.source)); caption('original', `source (${r.source.width}×${r.source.height})`);
  show('adversarial', img(r.attack)); caption('adversarial', `attack image (${r.attack.width}×${r.attack.height})`);
  const p = view.perturbationImage(r.attack.rgb, r.source.rgb, r.attack.width, r.attack.height);
  show('perturbation', p.image); caption('perturbation', `perturbation ×${p.factor} (max ${p.max}/255)`);
  show('clean', map(r.maps.none_source)); caption('clean', 'map of the downscaled source');
  show('adversarial-map', map(r.maps.none_attack)); caption('adversarial-map', 'map of the downscaled attack image');
  show('target-map', r.wanted ? map(r.wanted) : map(r.maps.target));
  caption('target-map', r.wanted ? 'wanted map' : 'map of the target image');
  const seen = r.inputs.none_attack;
  show('overlay', view.overlayImage(seen.rgb, r.maps.none_attack.classes, seen.width, seen.height, pal, alpha));
  caption('overlay', 'what the network sees (downscaled attack) + its map');
  updatePaint();
}

// hover: the class under the cursor in the clean and adversarial maps
for (const fig of document.querySelectorAll('#views figure')) {
  const canvas = /** @type {HTMLCanvasElement} */ (fig.querySelector('canvas'));
  canvas.addEventListener('mousemove', (ev) => {
    if (!state.info || !state.clean) return;
    const { x, y } = view.pixelAt(canvas, ev);
    const names = state.info.classes;
    const at = (/** @type {Uint8Array} */ m, /** @type {number} */ mw, /** @type {number} */ mh) => {
      const mx = Math.floor(x * mw / canvas.width), my = Math.floor(y * mh / canvas.height);
      const c = m[my * mw + mx];
      return c < names.length ? names[c] : 'void';
    };
    const parts = [`(${x}, ${y})`];
    if (state.resultKind === 'scaling') {
      const r = state.result;
      parts.push(`source: ${at(r.maps.none_source.classes, r.maps.none_source.width, r.maps.none_source.height)}`);
      parts.push(`attack: ${at(r.maps.none_attack.classes, r.maps.none_attack.width, r.maps.none_attack.height)}`);
    } else {
      const i = state.selected, { width: w, height: h } = state.clean;
      parts.push(`clean: ${at(state.clean.maps[i], w, h)}`);
      if (state.resultKind === 'attack') parts.push(`adversarial: ${at(state.result.adversarialMaps[i], w, h)}`);
    }
    $('hover').textContent = parts.join(' · ');
  });
}

// ---------------------------------------------------------------- painting the target map

const paintCanvas = /** @type {HTMLCanvasElement} */ (figure('clean').querySelector('canvas.paint'));

function painting() {
  return (state.mode === 'targeted' && targetKind() === 'map') || (state.mode === 'scaling' && $('scaling-target').value === 'map');
}

function updatePaint() {
  const on = painting() && !!state.size && state.resultKind !== 'scaling';
  paintCanvas.hidden = !on;
  $('paint-tools').hidden = !on;
  if (!on || !state.size || !state.painted || !state.info) return;
  const [w, h] = state.size;
  view.draw(paintCanvas, view.mapImage(state.painted, w, h, state.info.palette, 0));
}

/** @type {{x: number, y: number} | null} the last brush position of the stroke */
let last = null;
/**
 * Paint a disc of the brush's class at (x, y) into the painted map.
 * @param {number} x @param {number} y
 */
function dab(x, y) {
  if (!state.size || !state.painted) return;
  const [w, h] = state.size;
  const r = Number($('brush').value) / 2;
  for (let yy = Math.max(0, Math.floor(y - r)); yy <= Math.min(h - 1, y + r); yy++) {
    for (let xx = Math.max(0, Math.floor(x - r)); xx <= Math.min(w - 1, x + r); xx++) {
      if ((xx - x) ** 2 + (yy - y) ** 2 <= r * r) state.painted[yy * w + xx] = state.paintClass;
    }
  }
}
/** A stroke segment from the last position to the pointer (discs every half radius). @param {PointerEvent} ev */
function paintAt(ev) {
  const p = view.pixelAt(paintCanvas, ev);
  const from = last || p;
  const n = Math.max(1, Math.ceil(Math.hypot(p.x - from.x, p.y - from.y) / Math.max(1, Number($('brush').value) / 4)));
  for (let k = 1; k <= n; k++) dab(from.x + (p.x - from.x) * k / n, from.y + (p.y - from.y) * k / n);
  last = p;
  updatePaint();
}
paintCanvas.addEventListener('pointerdown', (ev) => { last = null; paintCanvas.setPointerCapture(ev.pointerId); paintAt(ev); });
paintCanvas.addEventListener('pointermove', (ev) => { if (last) paintAt(ev); });
paintCanvas.addEventListener('pointerup', () => { last = null; });
$('paint-class').addEventListener('change', () => { state.paintClass = Number($('paint-class').value); });
$('paint-erase').addEventListener('click', () => { state.paintClass = 255; });
$('paint-clear').addEventListener('click', () => { if (state.painted) state.painted.fill(255); updatePaint(); });
$('paint-fill').addEventListener('click', () => { if (state.painted) state.painted.fill(state.paintClass); updatePaint(); });

// ---------------------------------------------------------------- metrics and downloads

function renderMetrics() {
  const body = $('metrics').querySelector('tbody');
  const r = state.result;
  /** @type {(string)[][]} */
  const rows = [];
  if (state.resultKind === 'attack') {
    rows.push(['', 'mIoU', 'pixel acc.', 'agreement']);
    const m = (/** @type {string} */ name, /** @type {any} */ v) => rows.push([name, view.fmt(v.miou), view.fmt(v.pixelAccuracy), view.fmt(v.agreement)]);
    if (r.targeted) m('clean vs target', r.cleanVsReference);
    m('adversarial vs clean', r.vsClean);
    if (r.targeted) m('adversarial vs target', r.vsReference);
    if (r.defense) {
      const tag = `defended (${r.defense.label}${r.defense.adaptive ? ', adaptive' : ''})`;
      m(`${tag}: clean vs clean`, r.defense.cleanVsClean);
      m(`${tag}: adversarial vs clean`, r.defense.vsClean);
      if (r.targeted) m(`${tag}: adversarial vs target`, r.defense.vsReference);
    }
    rows.push(['', 'L∞', 'L2', 'PSNR']);
    rows.push(['batch (8-bit)', `${view.fmt(r.linf * 255, 1)}/255`, view.fmt(r.l2, 3), `${view.fmt(r.psnr, 2)} dB`]);
    const s = r.perImage[state.selected];
    if (s) rows.push([`image ${state.selected + 1}`, `${view.fmt(s.linf * 255, 1)}/255`, view.fmt(s.l2, 3), `${view.fmt(s.psnr, 2)} dB`]);
  } else if (state.resultKind === 'scaling') {
    const rep = r.report;
    rows.push(['', 'mIoU', 'agreement', '']);
    const m = (/** @type {string} */ name, /** @type {any} */ v) => rows.push([name, view.fmt(v.miou), view.fmt(v.agreement), '']);
    m('clean (downscaled source) vs target', rep.clean_down_map_vs_target);
    m('attack (downscaled) vs target', rep.down_map_vs_target);
    m('attack (downscaled) vs source', rep.down_map_vs_source);
    if (r.wantedScores) m('attack vs wanted map', r.wantedScores.attack);
    rows.push(['', 'L∞', 'L2', 'PSNR']);
    const d = diffStats(r.attack.rgb, r.source.rgb);
    rows.push(['attack vs source', `${d.linf}/255`, view.fmt(d.l2, 3), `${view.fmt(rep.attack.psnr_vs_source, 2)} dB`]);
  }
  body.replaceChildren(...rows.map((cells, k) => {
    const tr = document.createElement('tr');
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement(k === 0 || cells[0] === '' ? 'th' : 'td'); td.textContent = c; return td; }));
    return tr;
  }));
  $('dl-png').disabled = !r;
  $('dl-json').disabled = !r;
}

/** L∞ (grey levels) and L2 (in [0, 1] units) of two 8-bit buffers. @param {Uint8Array} a @param {Uint8Array} b */
function diffStats(a, b) {
  let linf = 0, sq = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; linf = Math.max(linf, Math.abs(d)); sq += (d / 255) ** 2; }
  return { linf, l2: Math.sqrt(sq) };
}

/** @param {Blob} blob @param {string} name */
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

$('dl-png').addEventListener('click', () => {
  const r = state.result;
  if (!r) return;
  const png = state.resultKind === 'scaling' ? r.png : r.pngs[state.selected];
  const base = state.resultKind === 'scaling' ? 'scaling-attack' : `adversarial-${state.selected + 1}`;
  download(new Blob([png], { type: 'image/png' }), `${base}.png`);
});
$('dl-json').addEventListener('click', () => {
  const r = state.result;
  if (!r) return;
  const report = {
    model: state.info.name, backend: state.backend, images: state.images.map((im) => im.name),
    kind: state.resultKind, seconds: r.seconds,
    ...(state.resultKind === 'attack'
      ? { size: [r.width, r.height], options: r.options, stepsRun: r.stepsRun, cleanVsReference: r.cleanVsReference,
          vsClean: r.vsClean, vsReference: r.vsReference, linf: r.linf, l2: r.l2, psnr: r.psnr, perImage: r.perImage, history: r.history }
      : { report: r.report, wantedScores: r.wantedScores }),
  };
  download(new Blob([JSON.stringify(report, null, 2)], { type: 'application/json' }), 'advseg-report.json');
});

// ---------------------------------------------------------------- start

async function main() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no offline cache:', e));
  state.models = await api.call('models', {});
  $('model').replaceChildren(...state.models.map((m) => new Option(m.title, m.name)));
  $('model').value = DEFAULT_MODEL;
  // ?backend=cpu|webgpu&model=NAME preselect (e.g. for comparing backends)
  const q = new URLSearchParams(location.search);
  if (q.get('backend')) $('backend-choice').value = q.get('backend');
  if (q.get('model')) $('model').value = q.get('model');
  const samples = await loadGallery();
  await loadModel();
  // a default image so that Run works at once
  if (state.images.length === 0 && samples && samples.length) await addSample(samples[0]);
}
guarded(main);
