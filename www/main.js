// The page's entry point: wires the modules to the page and starts it.
//   state.js    the page state, the worker client, the result types
//   status.js   error banner, status line, busy state, offline cache
//   model.js    model and backend choice, legend and class menus
//   inputs.js   picker, drop, paste, gallery, the batch
//   controls.js the form → the options of a wasm call
//   run.js      segmenting, attacks, progress, cancel
//   render.js   the views; paint.js the brush; metrics.js the table and downloads
//   camera.js   the live camera view; universal.js its universal perturbation
//   grid.js     the batch overview (one row per image, live during an attack)
//   sweep.js    the robustness curve (the attack over a list of ε)
//   lessons.js  the guided lessons (progress in localStorage)
import { state, api, $ } from './state.js';
import { guarded, hideError, setBusy, setStage, showError } from './status.js';
import { fillModels, loadModel } from './model.js';
import { addSample, loadGallery, renderBatch, wireInputs } from './inputs.js';
import { fillAttacks, fillScalers, wireControls } from './controls.js';
import { cancel, run, segment } from './run.js';
import { renderViews, wireViews } from './render.js';
import { updatePaint, wirePaint } from './paint.js';
import { onPerImageSelect, renderMetrics, wireDownloads } from './metrics.js';
import { fillCameraModels, wireCamera } from './camera.js';
import { onRowOpen } from './grid.js';
import { wireSweep } from './sweep.js';
import { wireLessons } from './lessons.js';
import { wireCustomModel } from './custom_model.js';

api.onFatal = (msg) => {
  if (msg.startsWith('cancelled')) { setStage('cancelled; reloading the model'); return; }
  showError(msg);
  setBusy(false);
  loadModel().catch(showError);
};

$('banner-close').addEventListener('click', hideError);
wireInputs();
wireControls(updatePaint);
wireViews();
wirePaint();
wireDownloads();
wireCamera();
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
wireCustomModel();
$('run').addEventListener('click', () => guarded(run));
$('cancel').addEventListener('click', cancel);
$('model').addEventListener('change', () => guarded(loadModel));
$('backend-choice').addEventListener('change', () => guarded(loadModel));
$('max-side').addEventListener('change', () => guarded(segment));

async function main() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no offline cache:', e));
  fillModels(await api.call('models', {}));
  fillCameraModels();
  fillScalers(await api.call('scalers', {}));
  fillAttacks(await api.call('attacks', {}));
  // ?backend=cpu|webgpu&model=NAME preselect (e.g. for comparing backends)
  const q = new URLSearchParams(location.search);
  if (q.get('backend')) $('backend-choice').value = q.get('backend');
  if (q.get('model')) $('model').value = q.get('model');
  const samples = await loadGallery();
  await loadModel();
  // a default image so that Run works at once
  if (state.images.length === 0 && samples.length) await addSample(samples[0]);
}
guarded(main);
