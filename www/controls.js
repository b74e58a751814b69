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

/**
 * The run the form describes: the only place that knows the shape of the options objects of
 * `Session.attack` and `Session.scalingAttack`.
 * @returns {RunRequest}
 */
export function runRequest() {
  const num = (/** @type {string} */ id) => Number($(id).value);
  const stepSize = num('step-size');
  const pgd = {
    eps: num('eps'), steps: Math.round(num('steps')), stepSize: stepSize > 0 ? stepSize : undefined,
    loss: $('loss').value, norm: $('norm').value, randomStart: $('random-start').checked,
  };
  if (state.mode === 'scaling') {
    const target = $('scaling-target').value;
    const options = {
      scaler: $('scaler').value, ratio: num('ratio'), eps: num('scaling-eps'),
      target, targetClass: num('scaling-class'), pgd: { ...pgd, mode: 'targeted-map', keepUnpainted: false },
    };
    return { op: 'scaling', options, goal: target, steps: pgd.steps };
  }
  const kind = state.mode === 'untargeted' ? 'none' : /** @type {'image' | 'class' | 'map'} */ (targetKind());
  // the defense toggles (nothing when no defense is chosen)
  const multiscale = $('def-multiscale').checked;
  const reconstruct = $('def-reconstruct').value;
  const defense = multiscale || reconstruct ? { multiscale, reconstruct, adaptive: $('def-adaptive').checked } : {};
  const options = {
    ...pgd, mode: kind === 'none' ? 'untargeted' : `targeted-${kind}`,
    targetIndex: Number($('target-index').value || 0), targetClass: Number($('target-class').value || 0),
    keepUnpainted: $('unpainted').value === 'keep', ...defense,
  };
  return { op: 'attack', options, goal: kind, steps: pgd.steps };
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
      for (const t of tabs) t.classList.toggle('active', t === tab);
      $('targeted-opts').hidden = state.mode !== 'targeted';
      $('scaling-opts').hidden = state.mode !== 'scaling';
      updatePgdVisibility();
      onChange();
    });
  }
  for (const r of document.querySelectorAll('input[name=tkind]')) r.addEventListener('change', onChange);
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
