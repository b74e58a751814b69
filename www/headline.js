// The headline above the views: the result's few numbers that matter, large, for the image shown,
// and the notes that explain the outcome (explain.js). Before any run it says what Run will do.
import { state, $, selectedIndex } from './state.js';
import { attackFigures, explainBatch, explainImage, explainScaling, pct } from './explain.js';

/** @typedef {import('./explain.js').Figure} Figure */
/** @typedef {import('./explain.js').Note} Note */

/** @param {Figure} f */
function figure(f) {
  const el = document.createElement('div');
  el.className = 'figure';
  el.dataset.figure = f.id;
  const v = document.createElement('strong');
  v.textContent = f.value;
  const l = document.createElement('span');
  l.className = 'label';
  l.textContent = f.label;
  el.append(v, l);
  if (f.sub) { const s = document.createElement('span'); s.className = 'sub'; s.textContent = f.sub; el.append(s); }
  return el;
}

/** @param {Note} n */
function note(n) {
  const li = document.createElement('li');
  li.className = `note-${n.level}`;
  li.dataset.note = n.id;
  li.textContent = n.text;
  return li;
}

/** The attack result of the batch shown, or null. */
function attackResult() {
  const c = state.clean;
  const r = /** @type {import('./state.js').AttackResult | null} */ (state.resultKind === 'attack' ? state.result : null);
  return c && r && r.width === c.width && r.height === c.height && r.adversarial.length === c.images.length ? r : null;
}

/** Draw the headline and the notes for the image shown. */
export function renderHeadline() {
  const box = $('headline');
  const i = selectedIndex();
  /** @type {Figure[]} */ let figures = [];
  /** @type {Note[]} */ let notes = [];
  let title = '';
  if (state.resultKind === 'scaling' && state.result) {
    ({ figures, notes } = explainScaling(state.result));
    title = `Scaling attack on ${state.images[0] ? state.images[0].name : 'image 1'}`;
  } else {
    const r = attackResult();
    if (r) {
      const rep = r.report;
      figures = attackFigures(rep, i);
      notes = [...explainImage(rep, i), ...explainBatch(rep)];
      const n = rep.images.length;
      const pooled = 1 - rep.overall.quantized.vs_clean.pixel_accuracy;
      title = `${rep.images[i] ? rep.images[i].name : ''}${n > 1 ? ` (image ${i + 1} of ${n}; the batch: ${pct(pooled)} of the pixels changed class)` : ''}`;
    }
  }
  box.dataset.state = figures.length ? 'result' : 'empty';
  $('headline-title').textContent = figures.length ? title : state.images.length
    ? 'Press Run (or “Run the demo attack”): the numbers of the result appear here.'
    : 'Add an image, or press “Run the demo attack”.';
  $('headline-figures').replaceChildren(...figures.map(figure));
  $('headline-notes').replaceChildren(...notes.map(note));
}
