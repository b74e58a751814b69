// The metrics table of the last run, and its downloads (adversarial PNG, JSON report).
import { state, $ } from './state.js';
import * as view from './view.js';

/** @typedef {import('./state.js').AttackResult} AttackResult */
/** @typedef {import('./state.js').ScalingResult} ScalingResult */

/**
 * The table rows of an attack (from the core's report), with the columns that mean something
 * for its goal: against the clean map the share of pixels that kept their class (untargeted,
 * that share and the agreement are the same number), against a target the agreement; then
 * the distances.
 * @param {AttackResult} r @returns {string[][]}
 */
function attackRows(r) {
  const rep = r.report, all = rep.overall;
  /** @type {string[][]} */
  const rows = [];
  const tag = rep.defense ? `defended (${rep.defense.label}${rep.defense.adaptive ? ', adaptive' : ''})` : '';
  const vsTarget = (/** @type {string} */ name, /** @type {import('./state.js').MapMetrics | null} */ v) => {
    if (v) rows.push([name, view.fmt(v.miou), view.fmt(v.agreement)]);
  };
  const vsClean = (/** @type {string} */ name, /** @type {import('./state.js').MapMetrics | null} */ v) => {
    if (v) rows.push([name, view.fmt(v.miou), view.fmt(v.pixel_accuracy)]);
  };
  if (rep.targeted) {
    rows.push(['against the target', 'mIoU', 'agreement']);
    vsTarget('clean vs target', all.clean.vs_target);
    vsTarget('adversarial vs target', all.quantized.vs_target);
    if (tag && all.defended) vsTarget(`${tag}: adversarial vs target`, all.defended.vs_target);
  }
  rows.push(['against the clean map', 'mIoU', 'pixels with their clean class']);
  vsClean('adversarial vs clean', all.quantized.vs_clean);
  if (tag && all.defended) {
    vsClean(`${tag}: clean vs clean`, all.defended.clean_vs_clean);
    vsClean(`${tag}: adversarial vs clean`, all.defended.vs_clean);
  }
  rows.push(['', 'L∞', 'L2', 'PSNR']);
  const psnr = (/** @type {number | string} */ p) => (typeof p === 'number' ? `${view.fmt(p, 2)} dB` : '∞ dB');
  const dist = (/** @type {string} */ name, /** @type {import('./state.js').Scores} */ s) =>
    rows.push([name, `${view.fmt(s.linf * 255, 1)}/255`, view.fmt(s.l2, 3), psnr(s.psnr)]);
  dist('batch (8-bit)', all.quantized);
  const one = rep.images[state.selected];
  if (one) dist(one.name, one.quantized);
  return rows;
}

/**
 * The per-image table of an attack: the share of pixels with their clean class and mIoU against
 * the clean map (the agreement with the target, ground truth where they apply), L∞, the iterate
 * returned where the report says, and SEA's winning loss — dataset means hide per-image
 * failures (Halmosi et al., ECCV 2024).
 * @param {AttackResult} r @returns {{head: string[], rows: string[][]}}
 */
function perImageRows(r) {
  const rep = r.report;
  const gt = rep.images.some((im) => im.quantized.vs_ground_truth);
  const sea = rep.images.some((im) => im.winning_loss);
  const kept = rep.images.some((/** @type {any} */ im) => Number.isInteger(im.kept_step));
  const head = ['image', 'pixels with their clean class', 'mIoU vs clean'];
  if (rep.targeted) head.push('agreement with the target');
  if (gt) head.push('mIoU vs ground truth');
  head.push('L∞');
  if (kept) head.push('iterate returned');
  if (sea) head.push('winning loss');
  const rows = rep.images.map((im, i) => {
    const q = im.quantized;
    const row = [`${i + 1} ${im.name}`, view.fmt(q.vs_clean.pixel_accuracy), view.fmt(q.vs_clean.miou)];
    if (rep.targeted) row.push(q.vs_target ? view.fmt(q.vs_target.agreement) : '–');
    if (gt) row.push(q.vs_ground_truth ? view.fmt(q.vs_ground_truth.miou) : '–');
    row.push(`${view.fmt(q.linf * 255, 1)}/255`);
    if (kept) row.push(Number.isInteger(/** @type {any} */ (im).kept_step) ? String(/** @type {any} */ (im).kept_step) : '–');
    if (sea) row.push(im.winning_loss || '–');
    return row;
  });
  return { head, rows };
}

/** Fill the per-image table (hidden without an attack result); a row click selects its image. */
function renderPerImage() {
  const table = $('per-image');
  const r = state.resultKind === 'attack' ? /** @type {AttackResult} */ (state.result) : null;
  table.hidden = !r;
  if (!r) return;
  const { head, rows } = perImageRows(r);
  const th = (/** @type {string} */ t) => { const e = document.createElement('th'); e.textContent = t; return e; };
  const hr = document.createElement('tr');
  hr.replaceChildren(...head.map(th));
  table.querySelector('thead').replaceChildren(hr);
  table.querySelector('tbody').replaceChildren(...rows.map((cells, i) => {
    const tr = document.createElement('tr');
    tr.className = i === state.selected ? 'selected' : '';
    tr.tabIndex = 0;
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement('td'); td.textContent = c; return td; }));
    const pick = () => { if (onSelect) onSelect(i); };
    tr.addEventListener('click', pick);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') pick(); });
    return tr;
  }));
}

/** @type {((i: number) => void) | null} */
let onSelect = null;
/** What a click on a per-image row does (the page selects that image). @param {(i: number) => void} f */
export function onPerImageSelect(f) { onSelect = f; }

/** The table rows of a scaling attack. @param {ScalingResult} r @returns {string[][]} */
function scalingRows(r) {
  const rep = r.report;
  const rows = [['maps of the downscaled images', 'mIoU', 'agreement']];
  const m = (/** @type {string} */ name, /** @type {import('./state.js').MapMetrics} */ v) => rows.push([name, view.fmt(v.miou), view.fmt(v.agreement)]);
  m('clean (downscaled source) vs target', rep.clean_down_map_vs_target);
  m('attack (downscaled) vs target', rep.down_map_vs_target);
  m('attack (downscaled) vs source', rep.down_map_vs_source);
  if (r.wanted) m('attack vs wanted map', r.wanted.report.attack_vs_wanted);
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
    const head = cells[0] === '' || /^(against|maps of)/.test(cells[0]);
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement(k === 0 || head ? 'th' : 'td'); td.textContent = c; return td; }));
    return tr;
  }));
  renderPerImage();
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

/**
 * The JSON report of the last result: the core's own report — for an attack exactly what the
 * CLI writes as report.json (docs/report-schema.md).
 * @returns {object}
 */
function report() {
  if (state.resultKind === 'attack') return /** @type {AttackResult} */ (state.result).report;
  const s = /** @type {ScalingResult} */ (state.result);
  return { report: s.report, wanted: s.wanted ? s.wanted.report : null, seconds: s.seconds };
}

/** Wire the two download buttons. */
export function wireDownloads() {
  $('dl-png').addEventListener('click', () => {
    if (!state.result) return;
    const scaling = state.resultKind === 'scaling';
    const png = scaling ? /** @type {ScalingResult} */ (state.result).png : /** @type {AttackResult} */ (state.result).pngs[state.selected];
    const im = state.images[state.selected];
    const stem = im ? im.name.replace(/^.*\//, '').replace(/\.[^.]*$/, '') : String(state.selected + 1);
    const name = scaling ? 'scaling-attack' : `adversarial-${stem}`;
    download(new Blob([/** @type {BlobPart} */ (png)], { type: 'image/png' }), `${name}.png`);
  });
  $('dl-json').addEventListener('click', () => {
    if (!state.result) return;
    download(new Blob([JSON.stringify(report(), null, 2)], { type: 'application/json' }), 'advseg-report.json');
  });
}
