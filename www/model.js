// The model and its backend: loading, the backend badge and note, the class legend and menus.
import { state, api, $, DEFAULT_MODEL } from './state.js';
import { setBusy, setStage } from './status.js';
import { pickClass } from './paint.js';
import { segment } from './run.js';
import { loadingDone, loadingStage, loadingStart } from './loading.js';
import * as view from './view.js';

/** The model menu, from the wasm API's list (a choice made stays). @param {import('./state.js').ModelEntry[]} models */
export function fillModels(models) {
  state.models = models;
  const keep = $('model').value;
  $('model').replaceChildren(...models.map((m) => new Option(m.title, m.name)));
  $('model').value = keep && models.some((m) => m.name === keep) ? keep : DEFAULT_MODEL;
}

/** The device in a few words, for the header's line. @param {import('./state.js').Loaded} r */
function deviceWords(r) {
  if (!r.webgpu) return (r.workers ?? 1) > 1 ? `runs on the CPU (${r.workers} workers)` : 'runs on the CPU';
  const software = /software|swiftshader|llvmpipe/i.test(r.backend);
  return software ? 'runs on WebGPU (a software adapter: slow)' : `runs on ${r.backend.replace(/^WebGPU:\s*/, 'WebGPU: ')}`;
}

/** The badge, the header's device line and the badge's note. @param {import('./state.js').Loaded} r */
function showBackend(r) {
  $('backend').textContent = r.webgpu ? 'GPU' : 'CPU';
  $('backend').className = `badge ${r.webgpu ? 'gpu' : 'cpu'}`;
  $('backend').setAttribute('aria-label', `device: ${r.backend}; press for details`);
  $('device-line').textContent = deviceWords(r);
  const note = $('gpu-note');
  const software = r.webgpu && /software|swiftshader|llvmpipe/i.test(r.backend);
  note.textContent = software
    ? 'This WebGPU adapter is a software emulation: it is much slower than a real GPU (choose CPU in the backend menu if it is too slow).'
    : r.webgpu ? '' : (r.workers ?? 1) > 1
      ? `Running on the CPU in ${r.workers} workers (a batch's images are shared among them): ${r.note}.`
      : `Running on the CPU (single-threaded, slower): ${r.note}.`;
  if (r.webgpu && !software) note.textContent = `Running on ${r.backend}.`;
  // 'auto' timed both devices: say which it chose and why
  if (r.calibration) note.textContent = r.calibration.text + ((r.workers ?? 1) > 1 ? ` The CPU runs in ${r.workers} workers.` : '');
  note.textContent = `${r.backend}. ${note.textContent}`;
  document.body.dataset.calibration = r.calibration ? JSON.stringify(r.calibration) : '';
}

/** The legend and every class menu for the model's classes (a kept choice stays). @param {import('./state.js').ModelInfo} info */
function showClasses(info) {
  view.legend($('legend'), info.classes, info.palette, pickClass);
  for (const sel of document.querySelectorAll('.class-select')) {
    const s = /** @type {HTMLSelectElement} */ (sel);
    const keep = s.value;
    s.replaceChildren(...info.classes.map((n, i) => new Option(`${i} ${n}`, String(i))));
    s.value = keep && Number(keep) < info.classes.length ? keep : String(Math.min(15, info.classes.length - 1));
  }
  state.paintClass = Number($('paint-class').value);
}

/** Load the chosen model on the chosen backend, then segment the batch with it. */
export async function loadModel() {
  const name = $('model').value || DEFAULT_MODEL;
  setBusy(true);
  loadingStart();
  setStage(`loading ${name}…`);
  /** @type {import('./state.js').Loaded} */
  const r = await api.load(name, $('backend-choice').value, (p) => { setStage(p.stage); loadingStage(p.stage); });
  state.info = r.info;
  state.backend = r.backend;
  // kernels are worth warming on a hardware adapter only (a software one is slow throughout)
  state.webgpu = r.webgpu && !/software|swiftshader|llvmpipe/i.test(r.backend);
  state.warmedFor = '';
  showBackend(r);
  showClasses(r.info);
  setStage(`${name} loaded in ${r.seconds.toFixed(1)} s`);
  setBusy(false);
  loadingStage(state.images.length ? 'segmenting the images…' : '');
  try {
    await segment();
  } finally {
    loadingDone();
  }
}

/** The badge's note opens on a tap too (hover and focus open it by CSS). */
export function wireBackendBadge() {
  $('backend').addEventListener('click', () => {
    const open = $('gpu-note').classList.toggle('open');
    $('backend').setAttribute('aria-expanded', String(open));
  });
}
