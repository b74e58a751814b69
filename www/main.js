// The page's entry point: wires the modules to the page and starts it.
//   state.js    the page state, the worker client, the result types
//   status.js   error banner, status line, busy state, run ids, offline cache
//   loading.js  the loading bar (bytes of the wasm module and the weights)
//   landing.js  "Run the demo attack" and "Start the tour"
//   model.js    model and backend choice, device badge, legend and class menus
//   inputs.js   picker, drop, paste, gallery, the batch
//   controls.js the form → the options of a wasm call (checked in the form's units)
//   run.js      segmenting, attacks, progress, cancel
//   render.js   the views (tile.js draws them area-averaged; zoom.js the 1:1 inset)
//   headline.js the result's numbers and notes (explain.js says what an outcome means)
//   paint.js    the brush; metrics.js the tables and downloads
//   camera.js   the live camera view; universal.js its universal perturbation
//   grid.js     the batch overview (one row per image, live during an attack)
//   sweep.js    the robustness curve (the attack over a list of ε)
//   lessons.js  the guided lessons (lesson_list.js their steps; progress in localStorage)
import { state, api, $, setReady } from './state.js';
import { guarded, hideError, setBusy, setStage, showError } from './status.js';
import { fillModels, loadModel, wireBackendBadge } from './model.js';
import { addSample, loadGallery, renderBatch, showGallery, wireInputs } from './inputs.js';
import { fillAttacks, fillScalers, wireControls } from './controls.js';
import { cancel, run, segment } from './run.js';
import { renderViews, wireViews } from './render.js';
import { updatePaint, wirePaint } from './paint.js';
import { onPerImageSelect, renderMetrics, wireDownloads } from './metrics.js';
import { fillCameraModels, wireCamera } from './camera.js';
import { onRowOpen } from './grid.js';
import { wireSweep } from './sweep.js';
import { wireLessons } from './lessons.js';
import { wireLanding } from './landing.js';
import { wireLoading } from './loading.js';
import { wireZoom } from './zoom.js';
import { wireCustomModel } from './custom_model.js';

api.onFatal = (msg) => {
  if (msg.startsWith('cancelled')) { setStage('cancelled; reloading the model'); return; }
  showError(msg);
  setBusy(false);
  loadModel().catch(showError);
};

$('banner-close').addEventListener('click', hideError);
wireLoading();
wireInputs();
wireControls(updatePaint);
wireViews();
wireZoom();
wirePaint();
wireDownloads();
wireCamera();
wireBackendBadge();
onPerImageSelect((i) => { state.selected = i; renderBatch(); renderViews(); renderMetrics(); });
onRowOpen((i) => {
  state.selected = i; renderBatch(); renderViews(); renderMetrics();
  const views = $('views');
  views.tabIndex = -1;
  views.scrollIntoView({ block: 'start' });
  views.focus({ preventScroll: true });
});
wireSweep(guarded);
wireLessons();
wireLanding();
wireCustomModel();
$('run').addEventListener('click', () => guarded(run));
$('cancel').addEventListener('click', cancel);
$('model').addEventListener('change', () => guarded(loadModel));
$('backend-choice').addEventListener('change', () => guarded(loadModel));
$('max-side').addEventListener('change', () => guarded(segment));

/**
 * The menus: from the build's copy of the wasm API's lists (pkg/catalog.json, a small file)
 * while the module downloads, then from the module itself.
 * @param {{models: any[], scalers: any[], attacks: any}} c
 */
function fillMenus(c) {
  fillModels(c.models);
  fillCameraModels();
  fillScalers(c.scalers);
  fillAttacks(c.attacks);
}

async function main() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no offline cache:', e));
  // ?backend=cpu|webgpu&model=NAME preselect (e.g. for comparing backends)
  const q = new URLSearchParams(location.search);
  const preselect = () => {
    if (q.get('backend')) $('backend-choice').value = q.get('backend');
    if (q.get('model')) $('model').value = q.get('model');
  };
  const early = fetch('pkg/catalog.json').then((r) => (r.ok ? r.json() : null)).catch(() => null);
  const gallery = loadGallery();
  const c = await early;
  if (c && !state.info) { fillMenus(c); preselect(); }
  // a default image so that Run works at once, shown while the network loads
  const samples = await gallery;
  if (state.images.length === 0 && samples.length) await addSample(samples[0]);
  const chosen = $('model').value;
  try {
    fillMenus({ models: await api.call('models', {}), scalers: await api.call('scalers', {}), attacks: await api.call('attacks', {}) });
  } finally {
    // the module has arrived (or failed): the gallery's pictures may use the link now
    showGallery();
  }
  if (chosen) $('model').value = chosen; else preselect();
  await loadModel();
  setReady();
  setBusy(false);
}
guarded(main);
