// Calls that run the network: segmenting the batch, and the attacks with their progress, live
// chart and cancellation.
import { state, api, $ } from './state.js';
import { beginRun, endRun, failure, hideError, setBusy, setStage } from './status.js';
import { runRequest } from './controls.js';
import { renderViews } from './render.js';
import { renderMetrics } from './metrics.js';
import * as view from './view.js';
import { endLive, startLive, updateLive } from './grid.js';
import { scoreName } from './explain.js';

/** @typedef {import('./api.js').Progress} Progress */

/** Segment the batch at its working size (new inputs: the last result no longer applies). */
export async function segment() {
  state.result = null; state.resultKind = null;
  delete $('metrics').dataset.run;
  delete $('results').dataset.run;
  renderMetrics();
  view.chart($('chart'), [], 1);
  $('hover').textContent = 'tap or hover a view to read the class under it';
  if (!state.info || state.images.length === 0) { renderViews(); return; }
  const first = state.images[0];
  /** @type {number[]} */
  const size = await api.call('inputSize', { width: first.width, height: first.height, maxSide: Number($('max-side').value) });
  state.size = [size[0], size[1]];
  $('size-info').textContent = `Working size ${size[0]}×${size[1]} (from image 1's ${first.width}×${first.height}; ` +
    `${state.info.size_rule}); every image of the batch is resized to it.`;
  if (!state.painted || state.painted.length !== size[0] * size[1]) state.painted = new Uint8Array(size[0] * size[1]).fill(255);
  setBusy(true);
  const images = state.images.map((im) => im.bytes.slice());
  try {
    /** @type {import('./state.js').Segmentation} */
    const r = await api.call('segment', { images, width: size[0], height: size[1] }, (p) => setStage(p.stage));
    state.clean = r;
    if (Number.isNaN(state.firstSegmentationMs)) {
      state.firstSegmentationMs = performance.now() - state.t0;
      document.body.dataset.firstSegmentationMs = String(Math.round(state.firstSegmentationMs));
    }
    setStage(`segmented ${images.length} image(s) in ${r.seconds.toFixed(2)} s`);
    document.body.dataset.segmentations = String(Number(document.body.dataset.segmentations || 0) + 1);
    // WebGPU compiles each kernel on its first run for a shape: do it now, not in the first step
    const key = `${images.length}x${size[0]}x${size[1]}`;
    if (state.webgpu && state.warmedFor !== key) {
      setStage('preparing the attack kernels for this size (WebGPU)…');
      const s = await api.call('warmUp', { batch: images.length, width: size[0], height: size[1] });
      state.warmedFor = key;
      setStage(`segmented ${images.length} image(s) in ${r.seconds.toFixed(2)} s; attack kernels ready in ${s.toFixed(1)} s`);
    }
  } finally {
    setBusy(false);
  }
  renderViews();
}

/** Progress of a run: the bar, the live chart and the status line. @param {Progress} p */
function onProgress(p) {
  $('progress').value = p.fraction ?? 0;
  if (p.stage === 'attack') {
    updateLive(p);
    const { step = 0, steps = 0, loss = NaN, agreement = NaN } = p;
    state.points.push({ step, loss, agreement });
    view.chart($('chart'), state.points, steps);
    setStage(`step ${step}/${steps} · current iterate: loss ${loss.toFixed(4)} · ${scoreName(!!p.targeted)} ${(100 * agreement).toFixed(1)} %`);
  } else setStage(p.stage);
}

/** Bring the result into view where it is not (phones: the views sit below the form). */
function revealResult() {
  const el = $('results');
  const r = el.getBoundingClientRect();
  if (r.top < 0 || r.top > innerHeight * 0.5) {
    const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
    el.scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
  }
}

/** Run the attack the form describes on the batch, then show its result. */
export async function run() {
  if (!state.size || state.images.length === 0) throw new Error('add an image first');
  const req = runRequest();
  const id = beginRun(req.op);
  hideError();
  setBusy(true);
  state.points = [];
  view.chart($('chart'), [], req.steps);
  $('progress').value = 0;
  try {
    if (req.op === 'scaling') await scalingRun(req);
    else await attackRun(req);
    $('progress').value = 1;
  } catch (err) {
    endRun(id, req.op, failure(err));
    throw err;
  } finally {
    setBusy(false);
  }
  renderViews();
  renderMetrics();
  // the views and tables now show this run
  $('metrics').dataset.run = String(id);
  $('results').dataset.run = String(id);
  endRun(id, req.op, 'done');
  revealResult();
}

/** @param {import('./controls.js').RunRequest} req */
async function attackRun(req) {
  const [w, h] = /** @type {[number, number]} */ (state.size);
  startLive(req);
  /** @type {import('./state.js').AttackResult} */
  let r;
  try {
    r = await api.call('attack', {
      images: state.images.map((im) => im.bytes.slice()), width: w, height: h, options: req.options,
      targetMap: req.goal === 'map' ? state.painted : null,
    }, onProgress);
  } finally {
    endLive();
  }
  nameImages(r.report);
  state.result = r; state.resultKind = 'attack';
  const { steps_run: steps, seconds } = r.report;
  const rate = steps / seconds;
  const split = api.lastSplit;
  const how = !split || (split.workers === 1 && !split.why) ? '' : split.workers > 1 ? `, ${split.workers} workers` : `, one worker: ${split.why}`;
  // the status ends on what the table shows: the returned (kept, 8-bit) iterates
  const q = r.report.overall.quantized;
  const targeted = r.report.targeted && q.vs_target;
  const final = targeted ? q.vs_target.agreement : q.vs_clean.agreement;
  setStage(`${steps} steps in ${seconds.toFixed(1)} s (${rate.toFixed(2)} steps/s on ${state.backend}${how}) · result: ${scoreName(!!targeted)} ${(100 * final).toFixed(1)} %`);
  const kept = r.report.images.length === 1 && Number.isInteger(r.report.images[0].kept_step) ? r.report.images[0].kept_step : steps;
  view.chart($('chart'), state.points, req.steps, { step: kept, agreement: final });
  document.body.dataset.attackWorkers = String(split ? split.workers : 1);
  document.body.dataset.stepsPerSecond = rate.toFixed(3);
}

/**
 * The report names the images by the page's file names (the wasm API numbers them): rows,
 * captions and the downloaded JSON then say which file is which.
 * @param {any} report
 */
function nameImages(report) {
  report.images.forEach((/** @type {any} */ im, /** @type {number} */ i) => { if (state.images[i]) im.name = state.images[i].name; });
  const t = report.spec && report.spec.goal === 'targeted-image' ? state.images[(report.spec.target_index || 1) - 1] : null;
  if (t) report.target_image = t.name;
}

/** @param {import('./controls.js').RunRequest} req */
async function scalingRun(req) {
  if (req.goal === 'image' && state.images.length < 2) {
    throw new Error('the scaling attack hides image 2 in image 1: add a second image (or hide a class or a painted map)');
  }
  /** @type {import('./state.js').ScalingResult} */
  const r = await api.call('scaling', {
    source: state.images[0].bytes.slice(), target: req.goal === 'image' ? state.images[1].bytes.slice() : null,
    options: req.options, wantedMap: req.goal === 'map' ? await wantedMap() : null,
  }, onProgress);
  state.result = r; state.resultKind = 'scaling';
  setStage(`scaling attack done in ${r.seconds.toFixed(1)} s`);
}

/**
 * The painted map at the size the scaling attack hands the model (both asked of the wasm API).
 * @returns {Promise<Uint8Array | null>}
 */
async function wantedMap() {
  if (!state.painted || !state.size) return null;
  /** @type {number[]} */
  const [mw, mh] = await api.call('scalingInputSize', {});
  const [w, h] = state.size;
  return api.call('resizeMap', { classes: state.painted, width: w, height: h, newWidth: mw, newHeight: mh });
}

/** Ask the running call to stop. */
export function cancel() {
  setStage('cancelling…');
  api.cancel();
}
