// The Web Worker that owns the wasm instance, so the page never freezes.
//
// Messages in:  {op: 'init', cancelFlag?: SharedArrayBuffer, module?: WebAssembly.Module} first; then
//               {id, op, args} with op 'models', 'scalers', 'resizeMap' (no model needed),
//               'registerOnnx', 'load' (with args.onnx for a model brought by the user:
//               custom_model.js), 'inputSize', 'scalingInputSize', 'segment', 'attack' (with
//               `part`: one part of a split attack) or 'scaling'; the pool's 'attackSplit' and
//               'mergeAttack' (pool.js); the calibration's 'probeAdapter' and 'forwardSeconds'
//               (calibrate.js); the camera view's 'universal', 'readDeltaPng', 'setDelta' and
//               'segmentFrame'; {op: 'cancel'} at any time.
// Messages out: {id, status: 'progress', progress} while running, then
//               {id, status: 'done', result} or {id, status: 'error', error: string};
//               {id: -2, status: 'bytes', progress: {file, loaded, total}} while the wasm module
//               or a model's weights download (fetch_progress.js); {id: -3, status: 'module', module}
//               once the wasm module is compiled (the page starts its next workers from it).
import init, { Session, attackSplit, listAttacks, probeAdapter, listModels, listScalers, readDeltaPng, registerOnnx, resizeMap } from './pkg/advseg.js';
import { fetchCounted, loadSizes } from './fetch_progress.js';

/** @type {Session | null} */
let session = null;
/** @type {string} */
let sessionKey = '';
/** @type {{delta: Float32Array, eps: number, width: number, height: number} | null} the camera view's universal δ */
let universalDelta = null;
/** @type {Int32Array | null} set to 1 by the page to cancel (when cross-origin isolated) */
let cancelFlag = null;
/** Post the bytes of a download in progress. @param {import('./fetch_progress.js').Bytes} b */
const postBytes = (b) => self.postMessage({ id: -2, status: 'bytes', progress: b });
loadSizes(new URL('./pkg/catalog.json', import.meta.url));

/** The wasm module instantiated: set by the 'init' message (requests wait for it). @type {Promise<void>} */
let ready = new Promise(() => {});

/**
 * Instantiate the wasm module: the compiled module another worker of the page made (the page
 * passes it on: no second download or compile — a browser does not keep a 38 MB response in its
 * HTTP cache), else fetched with its bytes reported and compiled while it downloads, then handed
 * to the page for the next workers.
 * @param {WebAssembly.Module | null} given
 */
function start(given) {
  ready = (async () => {
    let module = given;
    if (!module) {
      const res = await fetchCounted(new URL('./pkg/advseg_bg.wasm', import.meta.url), 'pkg/advseg_bg.wasm', postBytes, 'application/wasm');
      if (!res.ok) throw new Error(`pkg/advseg_bg.wasm: HTTP ${res.status} (scripts/web_build.sh builds it)`);
      module = await WebAssembly.compileStreaming(res);
    }
    await init({ module_or_path: module });
    if (!given) self.postMessage({ id: -3, status: 'module', module });
  })();
  ready.catch(() => {});
}

/**
 * The weights of a model, fetched lazily from weights/ (the service worker caches them).
 * @param {string} file
 * @returns {Promise<Uint8Array>}
 */
async function fetchWeights(file) {
  const res = await fetchCounted(new URL(`./weights/${file}`, import.meta.url), `weights/${file}`, postBytes);
  if (!res.ok) throw new Error(`weights/${file}: HTTP ${res.status} (run scripts/demo.sh to fetch the weights)`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * A progress callback for the wasm API: posts each update, returns false to cancel.
 * @param {number} id
 */
function progressOf(id) {
  return (/** @type {any} */ p) => {
    self.postMessage({ id, status: 'progress', progress: p });
    return !(cancelFlag && Atomics.load(cancelFlag, 0) === 1);
  };
}

/** @param {any} err */
function message(err) {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try { return JSON.stringify(err); } catch { return String(err); }
}

/**
 * @param {number} id
 * @param {string} op
 * @param {any} args
 */
async function handle(id, op, args) {
  await ready;
  if (op === 'models') return listModels();
  if (op === 'scalers') return listScalers();
  if (op === 'attacks') return listAttacks();
  if (op === 'resizeMap') return resizeMap(args.classes, args.width, args.height, args.newWidth, args.newHeight);
  if (op === 'readDeltaPng') return readDeltaPng(args.bytes);
  if (op === 'attackSplit') return attackSplit(args.options);
  if (op === 'probeAdapter') return await probeAdapter();
  if (op === 'setDelta') { universalDelta = args; return true; }
  // an ONNX file brought by the user (custom_model.js): read and checked, not yet loaded
  if (op === 'registerOnnx') return registerOnnx(args.model, args.bytes, args.description);
  if (op === 'load') {
    const key = `${args.model}/${args.backend || 'auto'}/${args.onnx ? args.onnx.version : ''}`;
    if (session && sessionKey === key) {
      return await describe(session, 0);
    }
    const t0 = performance.now();
    if (args.onnx) registerOnnx(args.model, args.onnx.bytes, args.onnx.description);
    const models = listModels();
    const entry = args.onnx ? { file: args.model } : models.find((/** @type {any} */ m) => m.name === args.model);
    if (!entry) throw new Error(`unknown model '${args.model}'`);
    self.postMessage({ id, status: 'progress', progress: { stage: `fetching ${entry.file}`, fraction: 0.1 } });
    const bytes = args.onnx ? new Uint8Array(0) : await fetchWeights(entry.file);
    self.postMessage({ id, status: 'progress', progress: { stage: 'building the network', fraction: 0.5 } });
    if (session) { session.free(); session = null; }
    session = await Session.create(args.model, bytes, args.backend || 'auto');
    sessionKey = key;
    return await describe(session, (performance.now() - t0) / 1000);
  }
  if (!session) throw new Error('no model is loaded yet');
  if (cancelFlag) Atomics.store(cancelFlag, 0, 0);
  const progress = progressOf(id);
  switch (op) {
    case 'inputSize': return session.inputSize(args.width, args.height, args.maxSide || 0);
    case 'scalingInputSize': return session.scalingInputSize();
    case 'segment': return await session.segment(args.images, args.width, args.height, progress);
    case 'warmUp': return await session.warmUp(args.batch, args.width, args.height);
    case 'forwardSeconds': return await session.forwardSeconds(args.width, args.height);
    // with `part` (the pool, pool.js): one part of an attack split over workers
    case 'attack':
      return await session.attack(args.images, args.width, args.height, args.options, args.targetMap ?? undefined, progress, args.part ?? undefined);
    case 'mergeAttack':
      return await session.mergeAttack(args.images, args.width, args.height, args.options, args.parts, args.seconds);
    case 'universal':
      return await session.universal(args.images, args.heldOut ?? undefined, args.width, args.height, args.options, progress);
    case 'segmentFrame': {
      const d = args.attack ? universalDelta : null;
      if (d && (d.width !== args.width || d.height !== args.height)) throw new Error(`the perturbation is ${d.width}×${d.height}, the frame ${args.width}×${args.height}`);
      return await session.segmentFrame(args.rgba, args.width, args.height, d ? d.delta : undefined, d ? d.eps : undefined);
    }
    case 'scaling':
      return await session.scalingAttack(args.source, args.target ?? undefined, args.options, args.wantedMap ?? undefined, progress);
    default: throw new Error(`unknown operation '${op}'`);
  }
}

/**
 * The session as the page shows it; on WebGPU the adapter's own description (burn's name for
 * it can be empty in browsers).
 * @param {Session} s @param {number} seconds
 */
async function describe(s, seconds) {
  let backend = s.backend;
  if (s.webgpu && 'gpu' in navigator) {
    try {
      const adapter = await /** @type {any} */ (navigator).gpu.requestAdapter();
      const i = adapter && adapter.info;
      const name = i ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') : '';
      if (name) backend = `WebGPU: ${name}${adapter.isFallbackAdapter || (i && i.isFallbackAdapter) ? ' (software)' : ''}`;
    } catch { /* keep burn's description */ }
  }
  return { backend, webgpu: s.webgpu, note: s.note, info: s.info(), seconds };
}

self.onmessage = async (/** @type {MessageEvent} */ ev) => {
  const { id, op, args } = ev.data;
  if (op === 'init') { cancelFlag = ev.data.cancelFlag ? new Int32Array(ev.data.cancelFlag) : null; start(ev.data.module || null); return; }
  if (op === 'cancel') { if (session) session.cancel(); return; }
  try {
    const result = await handle(id, op, args);
    self.postMessage({ id, status: 'done', result });
  } catch (err) {
    self.postMessage({ id, status: 'error', error: message(err) });
  }
};

// A wasm trap (e.g. a panic) surfaces here: report it instead of hanging the page.
self.addEventListener('error', (ev) => { self.postMessage({ id: -1, status: 'error', error: `worker: ${ev.message}` }); });
self.addEventListener('unhandledrejection', (ev) => { self.postMessage({ id: -1, status: 'error', error: `worker: ${message(ev.reason)}` }); });
