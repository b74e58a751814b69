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
      updatePgdVisibility();
      onChange();
    });
  }
  for (const r of document.querySelectorAll('input[name=tkind]')) r.addEventListener('change', onChange);
  $('kind').addEventListener('change', updateKindOptions);
  $('scaling-target').addEventListener('change', () => { updatePgdVisibility(); onChange(); });
  $('norm').addEventListener('change', () => {
    // sensible radii per norm (L2 over all 3·H·W values, in /255 units)
    const l2 = $('norm').value === 'l2';
    $('eps').value = l2 ? '255' : '8';
    $('step-size').value = l2 ? '64' : '2';
  });
}

/** @typedef {import('./state.js').State} State */

/** PGD settings matter except when the scaling attack hides a given image. */
function updatePgdVisibility() {
  $('pgd-opts').hidden = state.mode === 'scaling' && $('scaling-target').value === 'image';
}
