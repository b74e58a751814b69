// The batch overview: one row per image of the batch — original, adversarial, clean map,
// adversarial map, and the target and defended maps where they apply — with each row's
// agreement with the attack's reference map. The adversarial maps and agreements follow the
// attack live (every iterate's maps come with its progress report); a row click (or Enter)
// opens the detailed views of that image.
import { state, $ } from './state.js';
import * as view from './view.js';
import * as tile from './tile.js';

/** @typedef {import('./state.js').AttackResult} AttackResult */
/** @typedef {import('./api.js').Progress & {maps?: Uint8Array[], agreements?: number[], targeted?: boolean}} LiveProgress */

/**
 * The live state of a running attack: the latest iterate's maps and agreements, and the
 * target maps known before the run ends (the clean map of the target image).
 * @type {{maps: Uint8Array[], agreements: number[], targeted: boolean, step: number, steps: number,
 *         targets: (Uint8Array | null)[] | null, targetImage: number} | null}
 */
let live = null;

/** @type {((i: number) => void) | null} */
let onOpen = null;

/** What a row click does (the page opens the detailed views of that image). @param {(i: number) => void} f */
export function onRowOpen(f) { onOpen = f; }

/**
 * The target maps of a targeted run, known before it ends (the core's goal resolved the same
 * way: the clean map of the target image, a class everywhere, or the painted map with the
 * unpainted pixels keeping their clean class or left free); null for an untargeted run.
 * @param {import('./controls.js').RunRequest} req
 * @returns {(Uint8Array | null)[] | null}
 */
function knownTargets(req) {
  const c = state.clean;
  if (!c || req.goal === 'none') return null;
  const o = /** @type {any} */ (req.options);
  if (req.goal === 'image') return c.maps.map(() => c.maps[(o.target_index || 1) - 1] || null);
  if (req.goal === 'class') return c.maps.map((m) => new Uint8Array(m.length).fill(o.target_class));
  const painted = state.painted;
  if (!painted) return null;
  return c.maps.map((m) => m.map((v, k) => (painted[k] !== 255 ? painted[k] : o.keep_unpainted ? v : 255)));
}

/** A run starts: forget the last live state. @param {import('./controls.js').RunRequest} req */
export function startLive(req) {
  const targets = knownTargets(req);
  const o = /** @type {any} */ (req.options);
  live = { maps: [], agreements: [], targeted: !!targets, step: 0, steps: req.steps, targets, targetImage: req.goal === 'image' ? (o.target_index || 1) - 1 : -1 };
  renderGrid();
}

/** One iterate of a running attack (from run.js's progress handler). @param {LiveProgress} p */
export function updateLive(p) {
  if (!live || !p.maps) return;
  live = { ...live, maps: p.maps, agreements: p.agreements || [], targeted: !!p.targeted, step: p.step || 0, steps: p.steps || 0 };
  renderGrid();
}

/** The run ended (done, failed or cancelled): draw from the result from now on. */
export function endLive() { live = null; renderGrid(); }

/**
 * A canvas cell showing `img` (or an empty placeholder).
 * @param {ImageData | null} img @param {string} label
 */
function cell(img, label) {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  if (img) tile.paint(canvas, img); else fig.classList.add('empty');
  const cap = document.createElement('figcaption');
  cap.textContent = label;
  fig.append(canvas, cap);
  return fig;
}

/** Which image of the batch is the target (goal: the map of an image), else -1. */
function targetImage() {
  if (live) return live.targetImage;
  const r = matchingResult();
  const spec = r ? /** @type {any} */ (r.report.spec) : null;
  return spec && spec.goal === 'targeted-image' ? (spec.target_index || 1) - 1 : -1;
}

/** The result of the last attack if it matches the segmented batch, else null. */
function matchingResult() {
  const c = state.clean;
  const r = /** @type {AttackResult | null} */ (state.resultKind === 'attack' ? state.result : null);
  return c && r && r.width === c.width && r.height === c.height && r.adversarial.length === c.images.length ? r : null;
}

/**
 * Per row: what it shows. Live iterates win over the last result (they belong to the run now
 * under way).
 * @param {number} i
 * @returns {{adv: Uint8Array | null, advMap: Uint8Array | null, target: Uint8Array | null,
 *            defended: Uint8Array | null, agreement: number, targeted: boolean, defenseLabel: string}}
 */
function rowData(i) {
  const r = matchingResult();
  if (live) {
    const target = live.targets ? live.targets[i] || null : null;
    return { adv: null, advMap: live.maps[i] || null, target, defended: null, agreement: live.agreements[i] ?? NaN, targeted: live.targeted, defenseLabel: '' };
  }
  if (!r) return { adv: null, advMap: null, target: null, defended: null, agreement: NaN, targeted: false, defenseLabel: '' };
  const im = r.report.images[i];
  const q = im.quantized;
  const agreement = r.report.targeted ? (q.vs_target ? q.vs_target.agreement : NaN) : q.vs_clean.agreement;
  const d = r.report.defense;
  return {
    adv: r.adversarial[i], advMap: r.adversarial_maps[i], target: r.report.targeted ? r.reference_maps[i] : null,
    defended: d && r.defended_adversarial_maps ? r.defended_adversarial_maps[i] : null,
    agreement, targeted: r.report.targeted, defenseLabel: d ? `${d.label}${d.adaptive ? ', adaptive' : ''}` : '',
  };
}

/** Draw the overview (hidden for a scaling result, which has one source image). */
export function renderGrid() {
  const panel = $('overview');
  const c = state.clean;
  const scaling = state.resultKind === 'scaling' && !live;
  tile.release($('overview-rows'));
  $('overview-rows').replaceChildren();
  if (!c || !state.info || scaling) {
    $('overview-note').textContent = scaling ? 'The scaling attack works on image 1 alone: see the views.' : 'Add images to see the batch.';
    return;
  }
  const pal = state.info.palette;
  const { width: w, height: h } = c;
  const rows = c.images.map((rgb, i) => {
    const d = rowData(i);
    const row = document.createElement('div');
    row.className = i === state.selected ? 'overview-row selected' : 'overview-row';
    row.tabIndex = 0;
    row.setAttribute('role', 'button');
    const what = d.targeted ? 'agreement with the target' : 'agreement with the clean map';
    const score = Number.isFinite(d.agreement) ? `${what}: ${(100 * d.agreement).toFixed(1)} %` : '';
    row.setAttribute('aria-label', `${state.images[i] ? state.images[i].name : `image ${i + 1}`}${score ? `, ${score}` : ''}: open its detailed views`);
    const head = document.createElement('div');
    head.className = 'overview-head';
    const name = document.createElement('strong');
    name.textContent = `${i + 1}. ${state.images[i] ? state.images[i].name : ''}${i === targetImage() ? ' — the target image (its own map is the target)' : ''}`;
    const agree = document.createElement('span');
    agree.className = 'agreement';
    agree.dataset.value = Number.isFinite(d.agreement) ? d.agreement.toFixed(4) : '';
    agree.textContent = score || (live ? 'attacking…' : 'not attacked yet');
    head.append(name, agree);
    const cells = [
      cell(view.rgbImage(rgb, w, h), 'original'),
      cell(d.adv ? view.rgbImage(d.adv, w, h) : null, live ? 'adversarial (at the end)' : 'adversarial'),
      cell(view.mapImage(c.maps[i], w, h, pal), 'clean map'),
      cell(d.advMap ? view.mapImage(d.advMap, w, h, pal) : null, live ? `adversarial map (step ${live.step})` : 'adversarial map'),
    ];
    if (d.target) cells.push(cell(view.mapImage(d.target, w, h, pal), 'target map'));
    if (d.defended) cells.push(cell(view.mapImage(d.defended, w, h, pal), `defended map (${d.defenseLabel})`));
    const strip = document.createElement('div');
    strip.className = 'overview-cells';
    strip.append(...cells);
    row.append(head, strip);
    const open = () => { if (onOpen) onOpen(i); };
    row.addEventListener('click', open);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
    return row;
  });
  $('overview-rows').replaceChildren(...rows);
  const r = matchingResult();
  $('overview-note').textContent = live
    ? `attack running: step ${live.step}/${live.steps}, maps of the current iterate`
    : r ? (r.report.targeted ? 'After the attack: each row\'s 8-bit adversarial map and its agreement with its target map.'
      : 'After the attack: each row\'s 8-bit adversarial map and its agreement with its own clean map (lower = stronger attack).')
      : 'The clean maps of the batch; run an attack to fill the adversarial columns.';
  panel.dataset.rows = String(rows.length);
}
