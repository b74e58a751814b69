// The live camera view: getUserMedia frames, drawn at the working size, segmented one after
// another in the camera view's own worker and model (universal.js: the page's model stays;
// Session.segmentFrame: the clean frame and, with a universal δ, the frame plus δ in one forward
// pass), shown side by side with the background blurred by the predicted person mask, frames per
// second measured. Frames stay in this page: nothing is sent anywhere.
import { state, $ } from './state.js';
import { guarded, showError } from './status.js';
import { cameraApi, cameraInfo, current, updateUniversal, wireUniversal } from './universal.js';

/** The model this view offers first. */
const CAMERA_MODEL = 'selfie';
/** Frames the fps figure averages over. */
const FPS_WINDOW = 10;

/** @type {MediaStream | null} */
let stream = null;
let running = false;
let paused = false;
/** @type {Promise<void> | null} */
let loopDone = null;
/** @type {Promise<void> | null} the frame being segmented */
let inFlight = null;
/** @type {number[]} end times of the last frames (ms) */
let times = [];
/** @type {number[]} the network's seconds for the last frames */
let costs = [];
let frames = 0;

/** The camera-view model menu: the zoo with the selfie segmenter first. */
export function fillCameraModels() {
  const models = [...state.models].sort((a, b) => Number(b.name === CAMERA_MODEL) - Number(a.name === CAMERA_MODEL));
  const keep = $('cam-model').value;
  $('cam-model').replaceChildren(...models.map((m) => new Option(m.title, m.name)));
  $('cam-model').value = models.some((m) => m.name === keep) ? keep : models.some((m) => m.name === CAMERA_MODEL) ? CAMERA_MODEL : models[0]?.name;
}

/** The working size of the frames: the δ's, else the model's for the video's shape. @param {HTMLVideoElement} video */
async function frameSize(video) {
  if (current) return [current.width, current.height];
  const key = `${cameraInfo()?.name}/${video.videoWidth}x${video.videoHeight}`;
  if (sizeFor.key !== key) {
    const api = await cameraApi();
    /** @type {number[]} */
    const s = await api.call('inputSize', { width: video.videoWidth || 640, height: video.videoHeight || 480, maxSide: 0 });
    sizeFor = { key, size: s };
  }
  return sizeFor.size;
}
/** The working size of the last video shape and model (asked once). @type {{key: string, size: number[]}} */
let sizeFor = { key: '', size: [0, 0] };

/** The class index shown sharp: `person` where the model has it, else everything but class 0. */
function foregroundTest() {
  const info = cameraInfo();
  const i = info ? info.classes.indexOf('person') : -1;
  return i >= 0 ? (/** @type {number} */ c) => c === i : (/** @type {number} */ c) => c !== 0;
}

/**
 * Draw `rgb` (RGBA or RGB bytes, `w × h`) with the background blurred by `map`'s mask.
 * @param {HTMLCanvasElement} canvas @param {Uint8Array | Uint8ClampedArray} pixels @param {number} channels
 * @param {Uint8Array} map @param {number} w @param {number} h @param {boolean} blur
 */
function drawEffect(canvas, pixels, channels, map, w, h, blur) {
  const fg = foregroundTest();
  const sharp = new ImageData(w, h);
  const full = new ImageData(w, h);
  for (let p = 0; p < w * h; p++) {
    for (let c = 0; c < 3; c++) { sharp.data[4 * p + c] = pixels[channels * p + c]; full.data[4 * p + c] = pixels[channels * p + c]; }
    full.data[4 * p + 3] = 255;
    sharp.data[4 * p + 3] = fg(map[p]) ? 255 : 0;
  }
  const tmp = new OffscreenCanvas(w, h);
  const tctx = /** @type {OffscreenCanvasRenderingContext2D} */ (tmp.getContext('2d'));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  tctx.putImageData(full, 0, 0);
  ctx.filter = blur ? `blur(${Math.max(2, Math.round(w / 40))}px)` : 'none';
  ctx.drawImage(tmp, 0, 0);
  ctx.filter = 'none';
  if (blur) {
    tctx.clearRect(0, 0, w, h);
    tctx.putImageData(sharp, 0, 0);
    ctx.drawImage(tmp, 0, 0);
  }
}

/** The attacked view on, or blanked (no δ, or “add δ” unticked) so that no stale frame shows. @param {boolean} on */
function showAttacked(on) {
  const canvas = /** @type {HTMLCanvasElement} */ ($('cam-attacked'));
  $('cam-attacked-caption').textContent = on ? 'with δ' : current ? 'with δ: off (tick “add δ”)' : 'with δ: craft or load a δ first';
  if (!on) {
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }
}

/** Share of `map`'s pixels in the foreground. @param {Uint8Array} map */
function foregroundShare(map) {
  const fg = foregroundTest();
  let n = 0;
  for (const c of map) if (fg(c)) n++;
  return n / map.length;
}

/** One frame: grab, segment (clean + attacked), draw, count. @param {HTMLVideoElement} video @param {OffscreenCanvas} grab */
async function step(video, grab) {
  const [w, h] = await frameSize(video);
  if (grab.width !== w || grab.height !== h) { grab.width = w; grab.height = h; }
  const g = /** @type {OffscreenCanvasRenderingContext2D} */ (grab.getContext('2d', { willReadFrequently: true }));
  g.drawImage(video, 0, 0, w, h);
  const frame = g.getImageData(0, 0, w, h).data;
  const attack = $('cam-attack').checked && current !== null;
  const rgba = new Uint8Array(frame);
  const api = await cameraApi();
  const r = await api.call('segmentFrame', { rgba, width: w, height: h, attack });
  const blur = $('cam-blur').checked;
  drawEffect($('cam-clean'), frame, 4, r.clean, w, h, blur);
  let differ = NaN;
  showAttacked(Boolean(r.attacked));
  if (r.attacked) {
    drawEffect($('cam-attacked'), r.attacked_rgb, 3, r.attacked, w, h, blur);
    let d = 0;
    for (let p = 0; p < r.clean.length; p++) if (r.clean[p] !== r.attacked[p]) d++;
    differ = d / r.clean.length;
  }
  frames++;
  times.push(performance.now());
  if (times.length > FPS_WINDOW + 1) times = times.slice(-FPS_WINDOW - 1);
  costs = [...costs, r.seconds].slice(-FPS_WINDOW);
  const cost = costs.reduce((a, b) => a + b, 0) / costs.length;
  const fps = times.length > 1 ? (times.length - 1) / ((times[times.length - 1] - times[0]) / 1000) : NaN;
  const pct = (/** @type {number} */ x) => `${(100 * x).toFixed(1)} %`;
  const mode = r.attacked ? 'clean + attacked' : 'clean only';
  $('cam-fps').textContent = Number.isFinite(fps) ? `${fps.toFixed(1)} fps (${mode}, ${(1000 * cost).toFixed(0)} ms per frame in the network)` : 'measuring…';
  $('cam-stats').textContent = `person: clean ${pct(foregroundShare(r.clean))}` +
    (r.attacked ? ` · with δ ${pct(foregroundShare(r.attacked))} · maps differ on ${pct(differ)} of the pixels` : ' · no δ added');
  const ds = document.body.dataset;
  ds.cameraFrames = String(frames);
  ds.cameraFps = Number.isFinite(fps) ? fps.toFixed(2) : '';
  ds.cameraMode = mode;
  ds.cameraDiffer = Number.isFinite(differ) ? differ.toFixed(4) : '';
}

/** Segment frames one after another until stopped. @param {HTMLVideoElement} video */
async function loop(video) {
  const grab = new OffscreenCanvas(1, 1);
  while (running) {
    // the page's own calls (segmenting, attacks) go first
    if (paused || video.readyState < 2 || document.body.classList.contains('busy')) { await new Promise((r) => setTimeout(r, 50)); continue; }
    try {
      inFlight = step(video, grab);
      await inFlight;
    } catch (err) {
      inFlight = null;
      // another call (an attack of the page, a model load) holds the worker: wait for it
      if (err instanceof Error && /busy/.test(err.message)) { await new Promise((r) => setTimeout(r, 200)); continue; }
      if (running && !paused) { showError(err); running = false; stopped(); }
    }
  }
}

/** Open the camera and start the loop on the camera view's model. */
async function start() {
  if (running) return;
  await cameraApi();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('this browser offers no camera access (navigator.mediaDevices)');
  stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  const video = /** @type {HTMLVideoElement} */ ($('cam-video'));
  video.srcObject = stream;
  await video.play();
  running = true; frames = 0; times = []; costs = [];
  const aspect = `${video.videoWidth || 4} / ${video.videoHeight || 3}`;
  for (const id of ['cam-clean', 'cam-attacked']) $(id).style.aspectRatio = aspect;
  $('cam-start').disabled = true; $('cam-stop').disabled = false;
  $('camera-panel').classList.add('live');
  loopDone = loop(video);
}

/** Stop the loop and release the camera. */
async function stop() {
  running = false;
  if (loopDone) await loopDone.catch(() => {});
  loopDone = null;
  stopped();
}

/** Release the camera and reset the controls. */
function stopped() {
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null;
  $('cam-start').disabled = false; $('cam-stop').disabled = true;
  $('camera-panel').classList.remove('live');
  $('cam-fps').textContent = 'stopped';
}

export function wireCamera() {
  wireUniversal();
  $('cam-start').addEventListener('click', () => guarded(start));
  $('cam-stop').addEventListener('click', () => guarded(stop));
  // crafting needs the worker: frames wait meanwhile
  document.addEventListener('universal-crafting', (/** @type {any} */ ev) => {
    paused = ev.detail.on;
    if (paused && inFlight) ev.detail.waits.push(inFlight);
  });
  document.addEventListener('universal-changed', () => { times = []; costs = []; });
  // the batch changes which δ can be crafted
  new MutationObserver(updateUniversal).observe($('batch'), { childList: true });
  // a new camera model while the camera runs: frames wait for its load
  $('cam-model').addEventListener('change', () => { sizeFor = { key: '', size: [0, 0] }; });
}
