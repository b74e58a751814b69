// Calls that run the network: segmenting the batch, and the attacks with their progress, live
// chart and cancellation.
import { state, api, $ } from './state.js';
import { hideError, setBusy, setStage } from './status.js';
import { runRequest } from './controls.js';
import { renderViews } from './render.js';
import { renderMetrics } from './metrics.js';
import * as view from './view.js';
import { endLive, startLive, updateLive } from './grid.js';

/** @typedef {import('./api.js').Progress} Progress */

/** Segment the batch at its working size (new inputs: the last result no longer applies). */
export async function segment() {
  state.result = null; state.resultKind = null;
  renderMetrics();
  view.chart($('chart'), [], 1);
  $('hover').textContent = 'hover a view to see the class under the cursor';
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
    setStage(`step ${step}/${steps} · loss ${loss.toFixed(4)} · agreement ${(100 * agreement).toFixed(1)} %`);
  } else setStage(p.stage);
}

/** Run the attack the form describes on the batch, then show its result. */
export async function run() {
  if (!state.size || state.images.length === 0) throw new Error('add an image first');
  hideError();
  setBusy(true);
  state.points = [];
  const req = runRequest();
  view.chart($('chart'), [], req.steps);
  $('progress').value = 0;
  try {
    if (req.op === 'scaling') await scalingRun(req);
    else await attackRun(req);
    $('progress').value = 1;
  } finally {
    setBusy(false);
  }
  renderViews();
  renderMetrics();
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
  state.result = r; state.resultKind = 'attack';
  const { steps_run: steps, seconds } = r.report;
  const rate = steps / seconds;
  const split = api.lastSplit;
  const how = !split || (split.workers === 1 && !split.why) ? '' : split.workers > 1 ? `, ${split.workers} workers` : `, one worker: ${split.why}`;
  setStage(`${steps} steps in ${seconds.toFixed(1)} s (${rate.toFixed(2)} steps/s on ${state.backend}${how})`);
  document.body.dataset.attackWorkers = String(split ? split.workers : 1);
  document.body.dataset.stepsPerSecond = rate.toFixed(3);
}

/** @param {import('./controls.js').RunRequest} req */
async function scalingRun(req) {
  if (req.goal === 'image' && state.images.length < 2) {
    throw new Error('the scaling attack hides image 2 in image 1: add a second image (or choose a class target)');
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
