// The lessons' steps: a text that says what to look for (no measured numbers in it: those come
// from the step's own "try it" run and are shown beside it), the try-it that sets the page's
// inputs and runs with fast defaults, and what the run showed — the numbers, and whether the
// effect the text promises happened. Links point to pages a browser user can open (the papers).
import { state, $ } from './state.js';
import { addImages } from './inputs.js';
import { run } from './run.js';
import { lastSweep, runSweep } from './sweep.js';
import { updatePaint } from './paint.js';
import { setField, setPlainAttack } from './controls.js';
import { presentClasses } from './render.js';
import { pct, per255, targetImageIndex } from './explain.js';

/** `?steps=N`: every "try it" runs N gradient steps (the tests use few). */
const STEPS_OVERRIDE = Number(new URLSearchParams(location.search).get('steps')) || 0;
/** A lesson's gradient steps: its own few, unless overridden. @param {number} n */
const steps = (n) => String(STEPS_OVERRIDE || n);

/**
 * What a try-it run showed: paragraphs for the reader, whether the promised effect happened,
 * and the numbers (for the reader's table and the tests).
 * @typedef {{lines: string[], effect: boolean, numbers: Record<string, any>}} Outcome
 */
/**
 * A step: `text` paragraphs may hold links as [label](https://…).
 * @typedef {{title: string, text: string[], tryLabel: string, tryIt: () => Promise<void>, outcome: () => Outcome}} Lesson
 */

const PAPERS = {
  apgd: 'https://arxiv.org/abs/2003.01690',
  sea: 'https://arxiv.org/abs/2306.12941',
  athalye: 'https://arxiv.org/abs/1802.00420',
  xiao: 'https://www.usenix.org/conference/usenixsecurity19/presentation/xiao',
  quiring: 'https://www.usenix.org/conference/usenixsecurity20/presentation/quiring',
};

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

/** Replace the batch with samples (one segmentation at the end), the first one shown. @param {string[]} preferred @param {number} n */
async function setBatch(preferred, n) {
  const samples = await pickSamples(preferred, n);
  const files = await Promise.all(samples.map(async (s) => {
    const r = await fetch(`samples/${s.file}`);
    if (!r.ok) throw new Error(`samples/${s.file}: HTTP ${r.status}`);
    return { name: s.name, blob: await r.blob() };
  }));
  for (const im of state.images) URL.revokeObjectURL(im.url);
  state.images = [];
  await addImages(files);
  state.selected = 0;
}

/** Click a tab of the form. @param {'untargeted' | 'targeted' | 'scaling'} mode */
function setMode(mode) {
  /** @type {HTMLElement} */ (document.querySelector(`.tabs button[data-mode="${mode}"]`)).click();
}

/** The fast defaults every "try it" starts from: the default attack, L∞, ε 8/255, 5 steps, no defense. */
function resetForm() {
  setPlainAttack('8', steps(5));
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

/** The last attack's report (the try-it just ran it). */
function report() {
  if (state.resultKind !== 'attack' || !state.result) throw new Error('the try-it left no attack result');
  return /** @type {any} */ (state.result).report;
}

/** A fraction with two decimals, as the tables show it. @param {number} x */
const f2 = (x) => x.toFixed(2);

/** The seed's batch: VOC images 294, 474 (the target), 23 and 8. */
const SEED_BATCH = ['voc/294.png', 'voc/474.png', 'voc/23.png', 'voc/8.png'];

/** @type {Lesson[]} */
export const LESSONS = [
  {
    title: 'Segmentation',
    text: [
      'A semantic segmentation network gives every pixel of an image a class: person, car, dog, background… The coloured picture it returns is called a class map; the chips under it name its colours.',
      'Everything here runs inside this page: the network (in the model menu: ESPNetv2 and DeepLabV3-MobileNetV2 trained on PASCAL VOC\'s 20 classes plus background, ESPNetv2 on Cityscapes, MediaPipe\'s person/background selfie segmenter) is compiled to WebAssembly with the rest of the code. Tap or hover a map to read the class under it.',
    ],
    tryLabel: 'Segment a street photo',
    tryIt: async () => {
      resetForm();
      setMode('untargeted');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      reveal('results');
    },
    outcome: () => {
      const c = state.clean;
      if (!c || !state.info) throw new Error('no segmentation');
      const classes = presentClasses(c.maps[0], state.info.classes);
      return {
        lines: [`The network labels ${state.images[0].name}: ${classes.slice(0, 5).map((e) => `${e.name} ${pct(e.share)}`).join(', ')}.`],
        effect: classes.length > 0,
        numbers: { classes: classes.map((e) => e.name) },
      };
    },
  },
  {
    title: 'An invisible untargeted attack',
    text: [
      'An adversarial perturbation is a small change to the pixels chosen by following the network\'s own gradient. With an L∞ budget ε = 4/255 no colour value moves by more than 4 of its 256 levels — too little to see.',
      'The untargeted attack (here the page\'s default, [APGD](' + PAPERS.apgd + '), maximising the cross-entropy against the clean map) only asks that the prediction change. Compare the original with the adversarial image, then the two maps; the perturbation view below them is the difference, amplified (its factor is in the caption) so that you can see it at all.',
    ],
    tryLabel: 'Attack one image at ε = 4/255',
    tryIt: async () => {
      resetForm();
      setMode('untargeted');
      setField('eps', '4');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      await run();
      reveal('results');
    },
    outcome: () => {
      const im = report().images[0], q = im.quantized;
      const changed = 1 - q.vs_clean.pixel_accuracy;
      return {
        lines: [`This run: ${pct(changed, 1)} of the pixels changed class, while no colour value moved by more than ${per255(q.linf)} (PSNR ${typeof q.psnr === 'number' ? q.psnr.toFixed(1) : '∞'} dB).`],
        effect: changed > 0,
        numbers: { changed, linf: q.linf },
      };
    },
  },
  {
    title: 'The targeted batch: four images, one map',
    text: [
      'A targeted attack descends the loss towards a chosen map instead of climbing away from the clean one. Here the target of every image in a batch of four is the clean map of image 2 (a bus, with the VOC samples).',
      'The overview below shows one row per image, redrawn at every step; the agreement is the fraction of pixels whose class matches the target map. The three other images\' maps move towards image 2\'s while the images themselves barely change; more steps push them further. On a CPU this takes a minute or so. Click a row to open its detailed views.',
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
    outcome: () => {
      const rep = report();
      const t = targetImageIndex(rep);
      const rows = rep.images.map((/** @type {any} */ im, /** @type {number} */ i) => ({ name: im.name, target: i === t, clean: im.clean.vs_target.agreement, adversarial: im.quantized.vs_target.agreement }));
      const others = rows.filter((/** @type {any} */ r) => !r.target);
      return {
        lines: [`This run (${rep.steps_run} steps), agreement with image 2's map, clean → adversarial:`,
          ...others.map((/** @type {any} */ r) => `${r.name}: ${f2(r.clean)} → ${f2(r.adversarial)}`)],
        effect: others.every((/** @type {any} */ r) => r.adversarial > r.clean),
        numbers: { rows },
      };
    },
  },
  {
    title: 'Paint your own target',
    text: [
      'The target can be any map. In the Targeted tab choose "to a painted map", pick a class in the brush menu (or click it in the Classes legend) and paint over the clean map; unpainted pixels keep their clean class, or are left free.',
      'The try-it paints a disc of "cat" in the middle of the image for you, leaves the other pixels free, and attacks towards it with plain PGD (a fixed step of 2/255): the agreement with the painted map — the share of the disc the network calls cat — rises. Paint something else and press Run to try your own; with "keep their class" the attack must also hold every other pixel, which takes more steps.',
    ],
    tryLabel: 'Paint a cat and attack',
    tryIt: async () => {
      resetForm();
      setMode('targeted');
      await setBatch(['voc/294.png', 'samples/astronaut.png'], 1);
      setTargetKind('map');
      setField('unpainted', 'free');
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
      reveal('results');
    },
    outcome: () => {
      const im = report().images[0];
      const clean = im.clean.vs_target.agreement, adversarial = im.quantized.vs_target.agreement;
      return {
        lines: [`This run: agreement with the painted map (the share of the disc labelled cat) ${f2(clean)} → ${f2(adversarial)}.`],
        effect: adversarial > clean,
        numbers: { clean, adversarial },
      };
    },
  },
  {
    title: 'Defenses, and the adaptive attack that breaks them',
    text: [
      'A defense changes what the network is shown or how its answers are combined: multi-scale inference averages the predictions at 0.5, 0.75, 1 and 1.25 of the size and of the mirrored image; reconstructions (JPEG, median filter, fewer bits, total-variation denoising) clean the input first.',
      'Against perturbations crafted on the bare network (non-adaptive) such defenses look strong. An adaptive attack differentiates through the defense itself, and much of that strength goes ([Athalye et al. 2018](' + PAPERS.athalye + ')): its mIoU against the clean map falls below the non-adaptive one. The try-it draws the comparison as a robustness curve at two radii.',
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
    outcome: () => {
      const s = lastSweep();
      if (!s) throw new Error('the try-it left no sweep');
      const pts = s.points.map((p) => ({ eps: p.eps, undefended: p.undefended.miou, defended: p.defended ? p.defended.miou : NaN, adaptive: p.adaptive ? p.adaptive.miou : NaN }));
      return {
        lines: ['This run, mIoU against the clean map (undefended / defended, non-adaptive / defended, adaptive):',
          ...pts.map((p) => `ε ${p.eps}/255: ${f2(p.undefended)} / ${f2(p.defended)} / ${f2(p.adaptive)}`)],
        effect: pts.every((p) => p.adaptive <= p.defended),
        numbers: { points: pts },
      };
    },
  },
  {
    title: 'The image-scaling attack',
    text: [
      'Networks take small inputs, so pipelines shrink images first. A downscaler with a small kernel reads only a few pixels of the large image; change just those and the shrunk image becomes another picture ([Xiao et al. 2019](' + PAPERS.xiao + '), [Quiring et al. 2020](' + PAPERS.quiring + ')).',
      'The try-it hides image 2 inside image 1 at ratio 4 with OpenCV\'s bilinear scaler, which reads two pixels in every four per axis — a quarter of the image. The network, shown the downscaled attack image, sees image 2: compare the two maps.',
      'The tiles on this page shrink every image by averaging all of its pixels (area scaling, what an eye does from a distance): the attack image looks mostly like image 1 there — the changed pixels, a quarter of them, leave a faint ghost — and the 1:1 inset shows its real pixels: image 1 sprinkled with a regular grid of changed ones. Tick "what a naive viewer shows" to shrink the tiles by nearest neighbour instead, as a browser does with pixelated rendering: the viewer then reads only some pixels, like the attacked scaler, and the hidden image shows through. That is the remedy too: a scaler that reads every pixel (area scaling), or replacing each read pixel by the median of its unread neighbours before scaling (Quiring et al. 2020).',
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
      reveal('results');
    },
    outcome: () => {
      if (state.resultKind !== 'scaling' || !state.result) throw new Error('the try-it left no scaling result');
      const rep = /** @type {any} */ (state.result).report;
      const target = rep.down_map_vs_target.agreement, before = rep.clean_down_map_vs_target.agreement;
      return {
        lines: [`This run: the downscaled attack image's map agrees ${f2(target)} with image 2's map (the downscaled image 1's map: ${f2(before)}); attack image vs image 1: PSNR ${rep.attack.psnr_vs_source.toFixed(1)} dB.`],
        effect: target > before,
        numbers: { target, before },
      };
    },
  },
];
