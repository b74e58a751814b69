// The metrics table of the last run, and its downloads (adversarial PNG, JSON report).
import { state, $ } from './state.js';
import * as view from './view.js';

/** @typedef {import('./state.js').AttackResult} AttackResult */
/** @typedef {import('./state.js').ScalingResult} ScalingResult */

/** The table rows of an attack: map scores, then distances. @param {AttackResult} r @returns {string[][]} */
function attackRows(r) {
  const rows = [['', 'mIoU', 'pixel acc.', 'agreement']];
  const m = (/** @type {string} */ name, /** @type {import('./state.js').MapMetrics} */ v) =>
    rows.push([name, view.fmt(v.miou), view.fmt(v.pixelAccuracy), view.fmt(v.agreement)]);
  if (r.targeted) m('clean vs target', r.cleanVsReference);
  m('adversarial vs clean', r.vsClean);
  if (r.targeted) m('adversarial vs target', r.vsReference);
  if (r.defense) {
    const tag = `defended (${r.defense.label}${r.defense.adaptive ? ', adaptive' : ''})`;
    m(`${tag}: clean vs clean`, r.defense.cleanVsClean);
    m(`${tag}: adversarial vs clean`, r.defense.vsClean);
    if (r.targeted) m(`${tag}: adversarial vs target`, r.defense.vsReference);
  }
  rows.push(['', 'L∞', 'L2', 'PSNR']);
  const dist = (/** @type {string} */ name, /** @type {import('./state.js').ImageStats} */ s) =>
    rows.push([name, `${view.fmt(s.linf * 255, 1)}/255`, view.fmt(s.l2, 3), `${view.fmt(s.psnr, 2)} dB`]);
  dist('batch (8-bit)', r);
  const s = r.perImage[state.selected];
  if (s) dist(`image ${state.selected + 1}`, s);
  return rows;
}

/** The table rows of a scaling attack. @param {ScalingResult} r @returns {string[][]} */
function scalingRows(r) {
  const rep = r.report;
  const rows = [['', 'mIoU', 'agreement', '']];
  const m = (/** @type {string} */ name, /** @type {import('./state.js').MapScore} */ v) => rows.push([name, view.fmt(v.miou), view.fmt(v.agreement), '']);
  m('clean (downscaled source) vs target', rep.clean_down_map_vs_target);
  m('attack (downscaled) vs target', rep.down_map_vs_target);
  m('attack (downscaled) vs source', rep.down_map_vs_source);
  if (r.wantedScores) m('attack vs wanted map', r.wantedScores.attack);
  rows.push(['', 'L∞', 'L2', 'PSNR']);
  const d = view.diffStats(r.attack.rgb, r.source.rgb);
  rows.push(['attack vs source', `${d.linf}/255`, view.fmt(d.l2, 3), `${view.fmt(rep.attack.psnr_vs_source, 2)} dB`]);
  return rows;
}

/** Fill the metrics table from the last result (empty without one) and enable the downloads. */
export function renderMetrics() {
  const r = state.result;
  const rows = !r ? [] : state.resultKind === 'attack' ? attackRows(/** @type {AttackResult} */ (r)) : scalingRows(/** @type {ScalingResult} */ (r));
  $('metrics').querySelector('tbody').replaceChildren(...rows.map((cells, k) => {
    const tr = document.createElement('tr');
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement(k === 0 || cells[0] === '' ? 'th' : 'td'); td.textContent = c; return td; }));
    return tr;
  }));
  $('dl-png').disabled = !r;
  $('dl-json').disabled = !r;
}

/** @param {Blob} blob @param {string} name */
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/** The JSON report of the last result. @returns {object} */
function report() {
  const r = /** @type {AttackResult | ScalingResult} */ (state.result);
  const common = {
    model: state.info?.name, backend: state.backend, images: state.images.map((im) => im.name),
    kind: state.resultKind, seconds: r.seconds,
  };
  if (state.resultKind !== 'attack') {
    const s = /** @type {ScalingResult} */ (r);
    return { ...common, report: s.report, wantedScores: s.wantedScores };
  }
  const a = /** @type {AttackResult} */ (r);
  return {
    ...common, size: [a.width, a.height], options: a.options, stepsRun: a.stepsRun, cleanVsReference: a.cleanVsReference,
    vsClean: a.vsClean, vsReference: a.vsReference, linf: a.linf, l2: a.l2, psnr: a.psnr, perImage: a.perImage, history: a.history,
  };
}

/** Wire the two download buttons. */
export function wireDownloads() {
  $('dl-png').addEventListener('click', () => {
    if (!state.result) return;
    const scaling = state.resultKind === 'scaling';
    const png = scaling ? /** @type {ScalingResult} */ (state.result).png : /** @type {AttackResult} */ (state.result).pngs[state.selected];
    const name = scaling ? 'scaling-attack' : `adversarial-${state.selected + 1}`;
    download(new Blob([/** @type {BlobPart} */ (png)], { type: 'image/png' }), `${name}.png`);
  });
  $('dl-json').addEventListener('click', () => {
    if (!state.result) return;
    download(new Blob([JSON.stringify(report(), null, 2)], { type: 'application/json' }), 'advseg-report.json');
  });
}
