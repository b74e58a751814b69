// The lessons: a guided sequence of short steps, each a paragraph and a "try it" button that
// sets the page's inputs (batch, tab, settings) and runs with fast defaults. Progress (which
// step is open, which were tried) is kept in localStorage; "Free mode" closes the panel and
// the page is the plain demo again.
import { state, $ } from './state.js';
import { guarded, setStage } from './status.js';
import { addImages } from './inputs.js';
import { run } from './run.js';
import { runSweep } from './sweep.js';
import { updatePaint } from './paint.js';

const STORE = 'advseg-lessons';
/** `?steps=N`: every "try it" runs N gradient steps (the tests use 1). */
const STEPS_OVERRIDE = Number(new URLSearchParams(location.search).get('steps')) || 0;
/** A lesson's gradient steps: its own few, unless overridden. @param {number} n */
const steps = (n) => String(STEPS_OVERRIDE || n);

/** @typedef {{title: string, text: string[], tryLabel: string, tryIt: () => Promise<void>}} Lesson */

/** @type {{open: boolean, current: number, done: number[]}} */
let progress = { open: false, current: 0, done: [] };

function load() {
  try {
    const p = JSON.parse(localStorage.getItem(STORE) || 'null');
    if (p && typeof p.current === 'number' && Array.isArray(p.done)) progress = { open: !!p.open, current: p.current, done: p.done };
  } catch { /* a damaged entry: start over */ }
}
function save() {
  try { localStorage.setItem(STORE, JSON.stringify(progress)); } catch { /* storage off: progress lasts this visit */ }
}

/**
 * The gallery's samples by preference: the named ones that exist, then the others in gallery
 * order, `n` in all.
 * @param {string[]} preferred @param {number} n
 */
async function pickSamples(preferred, n) {
  const res = await fetch('samples/index.json');
  if (!res.ok) throw new Error('the lessons use the sample gallery (samples/index.json), which is missing');
  /** @type {{file: string, name: string}[]} */
  const list = await res.json();
  const chosen = preferred.map((p) => list.find((s) => s.name === p)).filter((s) => !!s);
  for (const s of list) if (chosen.length < n && !chosen.includes(s)) chosen.push(s);
  return /** @type {{file: string, name: string}[]} */ (chosen.slice(0, n));
}

/** Replace the batch with samples (one segmentation at the end). @param {string[]} preferred @param {number} n */
async function setBatch(preferred, n) {
  const samples = await pickSamples(preferred, n);
  const files = await Promise.all(samples.map(async (s) => {
    const r = await fetch(`samples/${s.file}`);
    if (!r.ok) throw new Error(`samples/${s.file}: HTTP ${r.status}`);
    return { name: s.name, blob: await r.blob() };
  }));
  for (const im of state.images) URL.revokeObjectURL(im.url);
  state.images = [];
  state.selected = 0;
  await addImages(files);
}

/** Click a tab of the form. @param {'untargeted' | 'targeted' | 'scaling'} mode */
function setMode(mode) {
  /** @type {HTMLElement} */ (document.querySelector(`.tabs button[data-mode="${mode}"]`)).click();
}

/** Set a form field and tell its listeners. @param {string} id @param {string | boolean} value */
function setField(id, value) {
  const el = $(id);
  if (typeof value === 'boolean') el.checked = value; else el.value = value;
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

/** The fast defaults every "try it" starts from: APGD, L∞, ε 8/255, 5 steps, no defense. */
function resetForm() {
  const kinds = state.attacks ? state.attacks.kinds : [];
  const def = kinds.find((k) => k.default);
  if (def) setField('kind', def.name);
  setField('norm', 'linf');
  setField('eps', '8');
  setField('steps', steps(5));
  setField('restarts', '1');
  setField('random-start', false);
  setField('def-multiscale', false);
  setField('def-reconstruct', '');
  setField('def-adaptive', false);
}

/** Check a radio of the targeted goal. @param {'image' | 'class' | 'map'} kind */
function setTargetKind(kind) {
  const r = /** @type {HTMLInputElement} */ (document.querySelector(`input[name=tkind][value=${kind}]`));
  r.checked = true;
  r.dispatchEvent(new Event('change', { bubbles: true }));
}

/** Index of the first class named one of `names` (else class 1). @param {string[]} names */
function classNamed(names) {
  const cls = state.info ? state.info.classes : [];
  const i = cls.findIndex((c) => names.includes(c));
  return i >= 0 ? i : Math.min(1, cls.length - 1);
}

/** Scroll an element into view (smoothly unless the reader prefers less motion). @param {string} id */
function reveal(id) {
  const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
  $(id).scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
}

/** The seed's batch: VOC images 294, 474 (the target), 23 and 8 (docs/results.md). */
const SEED_BATCH = ['voc/294.png', 'voc/474.png', 'voc/23.png', 'voc/8.png'];

/** @type {Lesson[]} */
export const LESSONS = [
  {
    title: 'Segmentation',
    text: [
      'A semantic segmentation network gives every pixel of an image a class: person, car, dog, background… The coloured picture it returns is called a class map; the Classes legend names the colours.',
      'Everything here runs inside this page: the network (in the model menu: ESPNetv2 and DeepLabV3-MobileNetV2 trained on PASCAL VOC\'s 20 classes plus background, ESPNetv2 on Cityscapes, MediaPipe\'s person/background selfie segmenter) is compiled to WebAssembly with the rest of the code. Hover a map to read the class under the cursor.',
    ],
    tryLabel: 'Segment a street photo',
    tryIt: async () => {
      resetForm();
      setMode('untargeted');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      reveal('views');
    },
  },
  {
    title: 'An invisible untargeted attack',
    text: [
      'An adversarial perturbation is a small change to the pixels chosen by following the network\'s own gradient. With an L∞ budget ε = 4/255 no colour value moves by more than 4 of its 256 levels — too little to see.',
      'The untargeted attack (here APGD, Croce & Hein 2020, maximising the cross-entropy against the clean map) only asks that the prediction change. Compare the original with the adversarial image, then the perturbation view: it is the difference, amplified (its factor is in the caption) so that you can see it at all.',
    ],
    tryLabel: 'Attack one image at ε = 4/255',
    tryIt: async () => {
      resetForm();
      setMode('untargeted');
      setField('eps', '4');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      await run();
      reveal('views');
    },
  },
  {
    title: 'The targeted batch: four images, one map',
    text: [
      'A targeted attack descends the loss towards a chosen map instead of climbing away from the clean one. Here the target of every image in a batch of four is the clean map of image 2.',
      'The overview shows one row per image, redrawn at every step; the agreement is the fraction of pixels whose class matches the target map. After these 12 steps at ε = 8/255 the adversarial maps of the other three images are mostly image 2\'s map (a bus, with the VOC samples), while the images themselves barely change (with the default ESPNetv2 we measured agreements of 0.86, 0.69 and 0.92, up from 0.34–0.40 on the clean images; the 20-step experiment in docs/results.md reaches 0.94–0.97). On the CPU backend this takes a minute or two. Click a row to open its detailed views.',
    ],
    tryLabel: 'Push 4 images to image 2\'s map',
    tryIt: async () => {
      resetForm();
      await setBatch(SEED_BATCH, 4);
      setMode('targeted');
      setTargetKind('image');
      setField('target-index', '1');
      setField('steps', steps(12));
      await run();
      reveal('overview');
    },
  },
  {
    title: 'Paint your own target',
    text: [
      'The target can be any map. In the Targeted tab choose "to a painted map", pick a class in the brush menu (or click it in the legend) and paint over the clean map; unpainted pixels keep their clean class, or are left free.',
      'The try-it button paints a disc of "cat" in the middle of the image for you and attacks towards it with 10 steps of plain PGD (fixed step 2/255). With the default ESPNetv2 we measured the agreement with this painted map rise from 0.80 to 0.94 that way, while APGD with the same budget returned the clean image: none of its iterates beat the starting point. Paint something else and press Run to try your own.',
    ],
    tryLabel: 'Paint a cat and attack',
    tryIt: async () => {
      resetForm();
      setMode('targeted');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      setTargetKind('map');
      setField('unpainted', 'keep');
      setField('kind', 'pgd');
      setField('step-size', '2');
      setField('steps', steps(10));
      const c = classNamed(['cat']);
      setField('paint-class', String(c));
      if (!state.size || !state.painted) throw new Error('no working size yet');
      const [w, h] = state.size;
      const r = Math.min(w, h) / 4;
      state.painted.fill(255);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - w / 2) ** 2 + (y - h / 2) ** 2 <= r * r) state.painted[y * w + x] = c;
      updatePaint();
      await run();
      reveal('views');
    },
  },
  {
    title: 'Defenses, and the adaptive attack that breaks them',
    text: [
      'A defense changes what the network is shown or how its answers are combined: multi-scale inference averages the predictions at 0.5, 0.75, 1 and 1.25 of the size and of the mirrored image; reconstructions (JPEG, median filter, fewer bits, total-variation denoising) clean the input first.',
      'Against perturbations crafted on the bare network (non-adaptive) such defenses look strong. An adaptive attack differentiates through the defense itself and most of that strength goes: on 10 VOC images at ε = 2/255 (docs/results.md, ESPNetv2) multi-scale inference kept an mIoU of 0.59 non-adaptively but 0.05 against the adaptive attack. The try-it button draws that comparison here as a robustness curve.',
    ],
    tryLabel: 'Curves: undefended, defended, adaptive',
    tryIt: async () => {
      resetForm();
      setMode('untargeted');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      setField('def-multiscale', true);
      setField('steps', steps(3));
      await runSweep('2, 8');
      reveal('sweep');
    },
  },
  {
    title: 'The image-scaling attack',
    text: [
      'Networks take small inputs, so pipelines downscale images first. A downscaler with a small kernel reads only a few pixels of the large image; change just those and the downscaled image becomes another picture (Xiao et al. 2019, Quiring et al. 2020).',
      'The try-it button hides image 2 inside image 1 at ratio 4 with OpenCV\'s bilinear scaler, which reads two pixels in every four per axis (a quarter of the image). The network, shown the downscaled attack image, sees image 2: compare the two maps. At full size (download the PNG) the attack image is image 1 sprinkled with a regular grid of changed pixels; drawn small on the page, the browser\'s own smoothing mixes those pixels in. That is the remedy, too (Quiring et al. 2020): a scaler that reads every pixel (area scaling), or replacing each read pixel by the median of its unread neighbours before scaling.',
    ],
    tryLabel: 'Hide image 2 in image 1',
    tryIt: async () => {
      resetForm();
      await setBatch(['voc/294.png', 'voc/474.png', 'samples/coffee.png'], 2);
      setMode('scaling');
      setField('scaling-target', 'image');
      setField('scaler', 'opencv-linear');
      setField('ratio', '4');
      await run();
      reveal('views');
    },
  },
];

/** Draw the lesson panel: the step list with ticks, the current step, its buttons. */
function render() {
  const panel = $('lessons');
  panel.hidden = !progress.open;
  $('lessons-toggle').setAttribute('aria-expanded', String(progress.open));
  $('lessons-toggle').textContent = progress.open ? 'Free mode' : 'Lessons';
  const cur = Math.max(0, Math.min(LESSONS.length - 1, progress.current));
  $('lesson-steps').replaceChildren(...LESSONS.map((l, i) => {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${progress.done.includes(i) ? '✓ ' : ''}${i + 1}. ${l.title}`;
    if (i === cur) b.setAttribute('aria-current', 'step');
    b.addEventListener('click', () => { progress.current = i; save(); render(); });
    li.append(b);
    return li;
  }));
  const l = LESSONS[cur];
  $('lesson-title').textContent = `${cur + 1}/${LESSONS.length} · ${l.title}`;
  $('lesson-text').replaceChildren(...l.text.map((t) => { const p = document.createElement('p'); p.textContent = t; return p; }));
  $('lesson-try').textContent = `Try it: ${l.tryLabel}`;
  $('lesson-prev').disabled = cur === 0;
  $('lesson-next').disabled = cur === LESSONS.length - 1;
}

/** Whether a "try it" is under way (a second click waits for it). */
let trying = false;

/** Run the current lesson's "try it"; it counts as done when it ends without an error. */
async function tryCurrent() {
  if (trying) return;
  trying = true;
  const i = progress.current;
  const body = document.body.dataset;
  body.lessonRun = `${i}:running`;
  let ok = false;
  try {
    await guarded(async () => {
      await LESSONS[i].tryIt();
      ok = true;
      if (!progress.done.includes(i)) progress.done.push(i);
      save();
      setStage(`lesson ${i + 1}: done — ${LESSONS[i].title}`);
    });
  } finally {
    trying = false;
    body.lessonRun = `${i}:${ok ? 'done' : 'error'}`;
    render();
  }
}

/** Wire the lesson panel and restore the kept progress. */
export function wireLessons() {
  load();
  $('lessons-toggle').addEventListener('click', () => {
    progress.open = !progress.open; save(); render();
    if (progress.open) $('lesson-title').focus();
  });
  $('lesson-close').addEventListener('click', () => { progress.open = false; save(); render(); $('lessons-toggle').focus(); });
  $('lesson-prev').addEventListener('click', () => { progress.current = Math.max(0, progress.current - 1); save(); render(); });
  $('lesson-next').addEventListener('click', () => { progress.current = Math.min(LESSONS.length - 1, progress.current + 1); save(); render(); });
  $('lesson-reset').addEventListener('click', () => { progress = { open: true, current: 0, done: [] }; save(); render(); });
  $('lesson-try').addEventListener('click', () => { tryCurrent(); });
  render();
}
