// The form: the mode tabs, the settings that show for each mode, and the one function that
// turns the form into the options object of a wasm call.
import { state, $ } from './state.js';

/**
 * A run as the form describes it. `goal` says what the run needs besides the options: `image`
 * a second image of the batch, `map` the painted map; `steps` sizes the live chart.
 * @typedef {{op: 'attack' | 'scaling', options: object, goal: 'none' | 'image' | 'class' | 'map', steps: number}} RunRequest
 */

/** The checked target of the targeted mode: `image`, `class` or `map`. */
export function targetKind() {
  const r = /** @type {HTMLInputElement | null} */ (document.querySelector('input[name=tkind]:checked'));
  return r ? r.value : 'image';
}

/** Whether the form asks for a painted map (so the brush is offered). */
export function painting() {
  return (state.mode === 'targeted' && targetKind() === 'map') || (state.mode === 'scaling' && $('scaling-target').value === 'map');
}

/** Steps between the progress read-backs of an attack on a hardware WebGPU adapter. */
const WEBGPU_PROGRESS_EVERY = 4;

/**
 * The run the form describes: the only place that knows the shape of the options objects of
 * `Session.attack` and `Session.scalingAttack`.
 * @returns {RunRequest}
 */
export function runRequest() {
  const num = (/** @type {string} */ id) => Number($(id).value);
  checkForm();
  const stepSize = num('step-size');
  // an attack spec (docs/report-schema.md): radii as fractions of the page's /255 units
  const kind = selectedKind();
  const pgd = defined({
    kind: kind ? kind.name : undefined, eps: `${num('eps')}/255`, steps: Math.round(num('steps')),
    step_size: stepSize > 0 && (!kind || kind.uses_step_size) ? `${stepSize}/255` : undefined,
    loss: !kind || kind.uses_loss ? $('loss').value : undefined, norm: $('norm').value,
    random_start: $('random-start').checked, restarts: Math.max(1, Math.round(num('restarts'))),
    radius_schedule: kind && !kind.uses_step_size && $('radius-schedule').checked ? true : undefined,
    // on a GPU every read-back stalls the device: progress every few steps (CPU: every step)
    progress_every: state.webgpu ? WEBGPU_PROGRESS_EVERY : undefined,
  });
  if (state.mode === 'scaling') {
    const target = $('scaling-target').value;
    const options = defined({
      pipeline: { scaler: $('scaler').value, ratio: num('ratio'), attack: { eps: num('scaling-eps') } },
      target, target_class: target === 'class' ? num('scaling-class') : undefined, craft: pgd,
    });
    return { op: 'scaling', options, goal: target, steps: pgd.steps };
  }
  const goal = state.mode === 'untargeted' ? 'none' : /** @type {'image' | 'class' | 'map'} */ (targetKind());
  // the defense toggles (none when no defense is chosen)
  const multiscale = $('def-multiscale').checked;
  const reconstruct = $('def-reconstruct').value;
  const defense = multiscale || reconstruct
    ? defined({ multiscale: multiscale ? {} : undefined, reconstruct, adaptive: $('def-adaptive').checked }) : undefined;
  const options = defined({
    ...pgd, goal: goal === 'none' ? 'untargeted' : `targeted-${goal}`,
    target_index: goal === 'image' ? Number($('target-index').value || 0) + 1 : undefined,
    target_class: goal === 'class' ? Number($('target-class').value || 0) : undefined,
    keep_unpainted: goal === 'map' ? $('unpainted').value === 'keep' : undefined, defense,
  });
  // SEA runs one APGD per loss: the live chart spans all of them
  const total = pgd.steps * (kind && kind.name === 'sea' ? state.attacks.sea_losses.length : 1) * pgd.restarts;
  return { op: 'attack', options, goal, steps: total };
}

/**
 * A form field's number, checked in the units the form shows (the core's own checks speak in
 * its units, e.g. ε in [0, 1]; the page's user typed /255).
 * @param {string} id @param {string} what @param {number} lo @param {number} hi @param {string} unit
 * @param {{integer?: boolean, above?: boolean}} [opts] `above`: the lower bound itself is refused
 */
function checked(id, what, lo, hi, unit, opts = {}) {
  const raw = $(id).value.trim();
  const v = Number(raw);
  const low = opts.above ? v > lo : v >= lo;
  if (raw === '' || !Number.isFinite(v) || !low || v > hi || (opts.integer && !Number.isInteger(v))) {
    const range = `${opts.above ? 'above' : 'from'} ${lo} ${opts.above ? 'up ' : ''}to ${hi}${unit}`;
    throw new Error(`${what}: '${raw}' is not ${opts.integer ? 'a whole number' : 'a number'} ${range}`);
  }
  return v;
}

/** Check the fields the current mode uses, in the form's units; throws a message naming the field. */
function checkForm() {
  const scalingImage = state.mode === 'scaling' && $('scaling-target').value === 'image';
  if (state.mode === 'scaling') {
    checked('scaling-eps', 'scaling ε', 0, 255, ' (/255: grey levels of the downscaled image)');
    checked('ratio', 'ratio', 2, 16, ' (the attack image is this many times the network\'s input)', { integer: true });
  }
  if (scalingImage) return;
  const l2 = $('norm').value === 'l2';
  checked('eps', 'ε', 0, 255, l2 ? ' (/255, the L2 norm over all colour values)' : ' (/255: the largest change of a colour value, out of 255)', { above: true });
  checked('steps', 'steps', 1, 100000, '', { integer: true });
  checked('step-size', 'step size', 0, 255, ' (/255)');
  checked('restarts', 'restarts', 1, 1000, '', { integer: true });
}

/**
 * `obj` without its undefined entries (the core's specs reject nulls where a value is due).
 * @template {object} T @param {T} obj @returns {T}
 */
function defined(obj) {
  return /** @type {T} */ (Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)));
}

/** The chosen attack family's entry of the catalogue (`null` before it is loaded). */
function selectedKind() {
  return state.attacks ? state.attacks.kinds.find((k) => k.name === $('kind').value) || null : null;
}

/**
 * The attack, loss and reconstruction menus, from the wasm API's catalogue (defaults selected).
 * @param {import('./state.js').AttackCatalog} c
 */
export function fillAttacks(c) {
  state.attacks = c;
  $('kind').replaceChildren(...c.kinds.map((k) => new Option(k.title, k.name, k.default, k.default)));
  $('loss').replaceChildren(...c.losses.map((l) => new Option(l.title, l.name, l.default, l.default)));
  $('def-reconstruct').replaceChildren(new Option('none', ''), ...c.reconstructions.map((r) => new Option(r.title, r.name)));
  updateKindOptions();
}

/** Show the settings the chosen attack family uses. */
function updateKindOptions() {
  const k = selectedKind();
  $('step-size-opt').hidden = !!k && !k.uses_step_size;
  $('loss-opt').hidden = !!k && !k.uses_loss;
  $('schedule-opt').hidden = !k || k.uses_step_size;
}

/**
 * The scaler menu, from the wasm API's list (its default selected).
 * @param {import('./state.js').ScalerEntry[]} scalers
 */
export function fillScalers(scalers) {
  $('scaler').replaceChildren(...scalers.map((s) => new Option(s.name, s.name, s.default, s.default)));
}

/**
 * Wire the tabs and the settings that show or hide others; `onChange` runs after each change
 * of what the form asks for (e.g. to show the brush).
 * @param {() => void} onChange
 */
export function wireControls(onChange) {
  const tabs = document.querySelectorAll('.tabs button');
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      state.mode = /** @type {State['mode']} */ (/** @type {HTMLElement} */ (tab).dataset.mode || 'untargeted');
      for (const t of tabs) { t.classList.toggle('active', t === tab); t.setAttribute('aria-selected', String(t === tab)); }
      $('targeted-opts').hidden = state.mode !== 'targeted';
      $('scaling-opts').hidden = state.mode !== 'scaling';
      $('mode-hint').textContent = MODE_HINTS[state.mode];
      updatePgdVisibility();
      applyDefaults();
      onChange();
    });
  }
  for (const r of document.querySelectorAll('input[name=tkind]')) r.addEventListener('change', () => { applyDefaults(); onChange(); });
  $('kind').addEventListener('change', updateKindOptions);
  $('scaling-target').addEventListener('change', () => { updatePgdVisibility(); onChange(); });
  $('norm').addEventListener('change', () => {
    // sensible radii per norm (L2 over all 3·H·W values, in /255 units)
    const l2 = $('norm').value === 'l2';
    $('eps').value = l2 ? '255' : '8';
    $('step-size').value = l2 ? '64' : '2';
    $('eps-unit').textContent = l2 ? '/255 (L2)' : '/255';
  });
  // a field the user set keeps its value when the goal's defaults change
  for (const id of DEFAULTED) $(id).addEventListener('input', () => touched.add(id));
}

/** The tab's one-line description. */
const MODE_HINTS = {
  untargeted: 'Push every pixel away from the class the network gives it.',
  targeted: 'Pull the network\'s map towards a target: another image\'s map, one class everywhere, or a map you paint.',
  scaling: 'Hide a second picture in image 1 that appears only when the image is shrunk to the network\'s input size (Quiring et al., 2020).',
};

/**
 * Settings per goal that work on the sample batch in a few seconds on a CPU (measured: see
 * docs/page.md); a field the user has edited is left alone. `kind` names a family of the
 * catalogue and applies only where the catalogue has it.
 * @type {Record<string, Record<string, string>>}
 */
const GOAL_DEFAULTS = {
  none: { steps: '10', kind: '' },
  image: { steps: '12', kind: '' },
  class: { steps: '10', kind: '' },
  // towards a painted map the default APGD returned the clean image and PGD's first iterates
  // move away from the target while unpainted pixels must keep their class; with them free and
  // a fixed step, the painted region turns in a few steps
  map: { steps: '10', kind: 'pgd', 'step-size': '2', unpainted: 'free' },
};
/** The fields GOAL_DEFAULTS sets. */
const DEFAULTED = ['steps', 'kind', 'step-size', 'unpainted'];
/** @type {Set<string>} fields the user has edited */
const touched = new Set();

/** Put the current goal's defaults into the fields the user has not edited. */
export function applyDefaults() {
  if (state.mode === 'scaling') return;
  const goal = state.mode === 'untargeted' ? 'none' : targetKind();
  const d = GOAL_DEFAULTS[goal];
  const kinds = state.attacks ? state.attacks.kinds : [];
  for (const [id, v] of Object.entries(d)) {
    if (touched.has(id)) continue;
    if (id === 'kind') {
      const k = kinds.find((e) => e.name === v) || kinds.find((e) => e.default);
      if (k) { $('kind').value = k.name; updateKindOptions(); }
    } else $(id).value = v;
  }
}

/** Forget which fields the user edited (the lessons and the demo set the form themselves). */
export function untouch() { touched.clear(); }

/**
 * The form back to a plain attack (the landing's demo, each lesson's start): no field chosen,
 * the catalogue's default kind, L∞ with `eps` (/255) and `steps`, one run from the clean image,
 * no defense. `chosen` as in `setField`.
 * @param {string} eps @param {string} steps @param {boolean} [chosen]
 */
export function setPlainAttack(eps, steps, chosen = true) {
  untouch();
  const set = (/** @type {string} */ id, /** @type {string | boolean} */ v) => setField(id, v, chosen);
  const def = state.attacks ? state.attacks.kinds.find((k) => k.default) : null;
  if (def) set('kind', def.name);
  set('norm', 'linf');
  set('eps', eps);
  set('steps', steps);
  set('restarts', '1');
  set('random-start', false);
  set('def-multiscale', false);
  set('def-reconstruct', '');
  set('def-adaptive', false);
}

/**
 * Set a form field, its listeners told (the lessons and the demo use it); `chosen`: as a user's
 * choice, which a goal's defaults leave alone afterwards.
 * @param {string} id @param {string | boolean} value @param {boolean} [chosen]
 */
export function setField(id, value, chosen = true) {
  const el = $(id);
  if (typeof value === 'boolean') el.checked = value; else el.value = value;
  if (chosen && DEFAULTED.includes(id)) touched.add(id);
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

/** @typedef {import('./state.js').State} State */

/** Show the fields that apply: PGD settings except when the scaling attack hides a given
 *  image, the scaling class only for a class target, defenses outside the scaling tab. */
function updatePgdVisibility() {
  const hide = state.mode === 'scaling' && $('scaling-target').value === 'image';
  $('pgd-opts').hidden = hide;
  $('pgd-more').hidden = hide;
  $('scaling-class-opt').hidden = !(state.mode === 'scaling' && $('scaling-target').value === 'class');
  $('defense-opts').hidden = state.mode === 'scaling';
}
