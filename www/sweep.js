// The robustness curve: the form's attack run once per ε of a list, mIoU and pixel accuracy
// plotted against ε for the undefended model and, with a defense chosen, the defended model
// facing the same (non-adaptive) perturbations and an adaptive attack crafted through it.
// Scores are against the clean map of the undefended model: the page has no ground truth.
// The numbers download as CSV and JSON, the plot as PNG.
import { state, api, $ } from './state.js';
import { beginRun, endRun, failure, hideError, setBusy, setStage } from './status.js';
import { runRequest } from './controls.js';
import * as view from './view.js';

/** @typedef {import('./state.js').MapMetrics} MapMetrics */
/**
 * One ε of the sweep: the scores of each condition (null where it does not apply).
 * @typedef {{eps: number, undefended: MapMetrics, defended: MapMetrics | null, adaptive: MapMetrics | null}} SweepPoint
 */
/**
 * The whole sweep, as downloaded.
 * @typedef {{schema: string, model: string, width: number, height: number, images: string[], reference: string,
 *            attack: object, defense: string | null, adaptive_note: string | null, points: SweepPoint[]}} Sweep
 */

/** The conditions, their colours on the plot, their column titles. */
const SERIES = /** @type {const} */ ([
  { key: 'undefended', title: 'undefended', colour: '#f0a040' },
  { key: 'defended', title: 'defended, non-adaptive', colour: '#4aa3ff' },
  { key: 'adaptive', title: 'defended, adaptive', colour: '#e05bd0' },
]);

/** @type {Sweep | null} */
let last = null;

/** The sweep shown (for tests and downloads). */
export function lastSweep() { return last; }

/**
 * The ε list of the form, in /255 units: positive numbers separated by commas or spaces.
 * @param {string} text @returns {number[]}
 */
export function parseEpsList(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  const list = parts.map(Number);
  const bad = parts.find((p, i) => !(list[i] > 0 && list[i] <= 255));
  if (bad !== undefined) throw new Error(`ε list: '${bad}' is not a radius in (0, 255] (ε = 0 is the clean image itself)`);
  if (list.length === 0) throw new Error('ε list: give at least one radius, e.g. 1, 2, 4, 8');
  return [...new Set(list)].sort((a, b) => a - b);
}

/**
 * Run the form's attack at every ε of the list and draw the curves.
 * @param {string} [epsText] the list (default: the form's field)
 */
export async function runSweep(epsText) {
  if (!state.size || !state.clean || state.images.length === 0 || !state.info) throw new Error('add an image first');
  if (state.mode === 'scaling') throw new Error('the ε sweep runs the PGD-family attacks: choose the Untargeted or Targeted tab');
  const epsList = parseEpsList(epsText ?? $('sweep-eps').value);
  const req = runRequest();
  const base = /** @type {any} */ (req.options);
  const defense = base.defense || null;
  const adaptivePossible = !!defense && !(defense.reconstruct);
  const adaptiveNote = defense && !adaptivePossible
    ? 'adaptive attack through a reconstruction (BPDA): native CLI only (advseg eval --experiment)' : null;
  const [w, h] = state.size;
  const runs = epsList.length * (adaptivePossible ? 2 : 1);
  const id = beginRun('sweep');
  hideError();
  setBusy(true);
  /** @type {SweepPoint[]} */
  const points = [];
  let done = 0;
  const attack = async (/** @type {number} */ eps, /** @type {boolean} */ adaptive) => {
    const options = { ...base, eps: `${eps}/255`, defense: defense ? { ...defense, adaptive } : undefined };
    if (!options.defense) delete options.defense;
    const what = `ε ${eps}/255${defense ? (adaptive ? ', adaptive' : ', non-adaptive') : ''}`;
    /** @type {import('./state.js').AttackResult} */
    const r = await api.call('attack', {
      images: state.images.map((im) => im.bytes.slice()), width: w, height: h, options,
      targetMap: req.goal === 'map' ? state.painted : null,
    }, (p) => {
      $('progress').value = (done + (p.fraction ?? 0)) / runs;
      if (p.stage === 'attack') setStage(`sweep: ${what}, step ${p.step}/${p.steps}`);
    });
    done += 1;
    return r.report.overall;
  };
  try {
    for (const eps of epsList) {
      const o = await attack(eps, false);
      const a = adaptivePossible ? await attack(eps, true) : null;
      points.push({ eps, undefended: o.quantized.vs_clean, defended: o.defended ? o.defended.vs_clean : null, adaptive: a && a.defended ? a.defended.vs_clean : null });
      last = {
        schema: 'advseg.sweep/1', model: state.info.name, width: w, height: h, images: state.images.map((im) => im.name),
        reference: 'the clean map of the undefended model (no ground truth in the page)',
        attack: { ...base, eps: undefined, defense: undefined }, defense: defense ? describeDefense(defense) : null,
        adaptive_note: adaptiveNote, points: [...points],
      };
      renderSweep();
    }
    setStage(`ε sweep done: ${epsList.length} radii, ${runs} attack runs`);
    $('progress').value = 1;
    endRun(id, 'sweep', 'done');
  } catch (err) {
    endRun(id, 'sweep', failure(err));
    throw err;
  } finally {
    setBusy(false);
  }
}

/** A defense spec in words. @param {any} d */
function describeDefense(d) {
  return [d.reconstruct || '', d.multiscale ? 'multi-scale' : ''].filter(Boolean).join(' → ');
}

/** The series of the last sweep that have points. */
function activeSeries() {
  if (!last) return [];
  const pts = last.points;
  return SERIES.filter((s) => pts.some((p) => p[s.key]));
}

/** The table of the last sweep: one row per ε, mIoU and accuracy per condition. */
function tableRows() {
  if (!last) return { head: [], rows: [] };
  const series = activeSeries();
  const head = ['ε (/255)', ...series.flatMap((s) => [`${s.title}: mIoU`, `${s.title}: pixel acc.`])];
  const rows = last.points.map((p) => [String(p.eps), ...series.flatMap((s) => {
    const m = p[s.key];
    return m ? [view.fmt(m.miou), view.fmt(m.pixel_accuracy)] : ['–', '–'];
  })]);
  return { head, rows };
}

/** Draw the plot and fill the table from the last sweep. */
export function renderSweep() {
  const has = !!last && last.points.length > 0;
  for (const id of ['sweep-csv', 'sweep-json', 'sweep-png']) $(id).disabled = !has;
  plot(/** @type {HTMLCanvasElement} */ ($('sweep-chart')));
  const { head, rows } = tableRows();
  const th = (/** @type {string} */ t) => { const e = document.createElement('th'); e.textContent = t; e.scope = 'col'; return e; };
  const hr = document.createElement('tr');
  hr.replaceChildren(...head.map(th));
  $('sweep-table').querySelector('thead').replaceChildren(hr);
  $('sweep-table').querySelector('tbody').replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement('td'); td.textContent = c; return td; }));
    return tr;
  }));
  $('sweep-table').hidden = !has;
  $('sweep-note').textContent = last && last.adaptive_note ? last.adaptive_note : '';
}

/**
 * The curves: ε on x (linear, 0 to the largest ε), score on y (0 to 1); mIoU solid with
 * round points, pixel accuracy dashed with square points; one colour per condition.
 * @param {HTMLCanvasElement} canvas
 */
function plot(canvas) {
  // drawn at the canvas's displayed size, so that its text stays readable on a phone
  const { ctx, W, H } = view.fitCanvas(canvas, 640, 300);
  const narrow = W < 520;
  ctx.font = '12px system-ui, sans-serif';
  const series = activeSeries();
  // the legend: as many lines as the width needs
  /** @type {{s: typeof SERIES[number], x: number, line: number}[]} */
  const items = [];
  let lx = 46, line = 0;
  for (const s of series) {
    const w = 28 + ctx.measureText(s.title).width;
    if (lx + w > W - 8 && lx > 46) { line += 1; lx = 46; }
    items.push({ s, x: lx, line });
    lx += w;
  }
  const titleLines = narrow ? ['score vs the clean map (no ground truth)', 'mIoU ——, pixel acc. - - -'] : ['score vs the clean map (no ground truth): mIoU ——, pixel acc. - - -'];
  const legendTop = 8 + 16 * titleLines.length;
  const pad = { l: 46, r: 16, t: legendTop + 18 * (items.length ? line + 1 : 0) + 8, b: 40 };
  ctx.fillStyle = '#11141a'; ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = '#3a4150'; ctx.lineWidth = 1;
  ctx.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  ctx.fillStyle = '#c3cad6';
  ctx.fillText('ε (/255)', W / 2 - 20, H - 6);
  titleLines.forEach((t, k) => ctx.fillText(t, narrow ? 6 : pad.l, 16 + 16 * k));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const y = pad.t + (H - pad.t - pad.b) * (1 - v);
    ctx.fillText(v.toFixed(2), 6, y + 4);
    ctx.strokeStyle = '#262b36'; ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(W - pad.r, y); ctx.stroke();
  }
  if (!last || last.points.length === 0) return;
  const pts = last.points;
  const xmax = Math.max(...pts.map((p) => p.eps));
  const x = (/** @type {number} */ e) => pad.l + (W - pad.l - pad.r) * e / xmax;
  const y = (/** @type {number} */ v) => pad.t + (H - pad.t - pad.b) * (1 - v);
  ctx.fillStyle = '#c3cad6';
  for (const e of [0, ...pts.map((p) => p.eps)]) ctx.fillText(String(e), x(e) - 4, H - pad.b + 14);
  for (const s of series) {
    for (const metric of /** @type {const} */ (['miou', 'pixel_accuracy'])) {
      const mine = pts.filter((p) => p[s.key]).map((p) => ({ e: p.eps, v: /** @type {MapMetrics} */ (p[s.key])[metric] }));
      ctx.strokeStyle = s.colour; ctx.fillStyle = s.colour; ctx.lineWidth = 2;
      ctx.setLineDash(metric === 'miou' ? [] : [6, 4]);
      ctx.beginPath();
      mine.forEach((q, k) => (k ? ctx.lineTo(x(q.e), y(q.v)) : ctx.moveTo(x(q.e), y(q.v))));
      ctx.stroke();
      ctx.setLineDash([]);
      for (const q of mine) {
        ctx.beginPath();
        if (metric === 'miou') ctx.arc(x(q.e), y(q.v), 3.5, 0, 2 * Math.PI); else ctx.rect(x(q.e) - 3, y(q.v) - 3, 6, 6);
        ctx.fill();
      }
    }
  }
  for (const it of items) {
    const top = legendTop + 18 * it.line;
    ctx.fillStyle = it.s.colour;
    ctx.fillRect(it.x, top, 12, 12);
    ctx.fillStyle = '#e6e9ef';
    ctx.fillText(it.s.title, it.x + 16, top + 10);
  }
}

/** @param {Blob} blob @param {string} name */
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

/** The last sweep as CSV: one row per ε and condition. */
export function sweepCsv() {
  if (!last) return '';
  const lines = ['eps_255,condition,miou,pixel_accuracy,agreement'];
  for (const p of last.points) {
    for (const s of SERIES) {
      const m = p[s.key];
      if (m) lines.push([p.eps, s.key, m.miou, m.pixel_accuracy, m.agreement].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Wire the sweep's button and its downloads. @param {(fn: () => Promise<unknown>) => void} guarded */
export function wireSweep(guarded) {
  $('sweep-run').addEventListener('click', () => guarded(() => runSweep()));
  $('sweep-csv').addEventListener('click', () => last && download(new Blob([sweepCsv()], { type: 'text/csv' }), 'advseg-sweep.csv'));
  $('sweep-json').addEventListener('click', () => last && download(new Blob([JSON.stringify(last, null, 2)], { type: 'application/json' }), 'advseg-sweep.json'));
  $('sweep-png').addEventListener('click', () => {
    /** @type {HTMLCanvasElement} */ ($('sweep-chart')).toBlob((b) => { if (b) download(b, 'advseg-sweep.png'); }, 'image/png');
  });
  renderSweep();
}
