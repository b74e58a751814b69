// The landing: "Run the demo attack" (the form set to a short untargeted attack, run on the batch —
// the default sample on a first visit — with the result in view) and "Start the tour" (lesson 1).
import { state, $, ready } from './state.js';
import { guarded, setStage } from './status.js';
import { setPlainAttack } from './controls.js';
import { run, segment } from './run.js';
import { addSample } from './inputs.js';
import { openLesson } from './lessons.js';

/**
 * The demo's settings: the catalogue's default attack, L∞ ε = 8/255, 3 steps at a working size
 * of 256 pixels — most of the map relabelled in seconds on a CPU (docs/page.md has the timings).
 */
export const DEMO = { eps: '8', steps: '3', size: '256' };

/** Whether a demo asked for while the page loads is waiting. */
let queued = false;

/** Set the form to the demo and run it on the batch (the first sample if the batch is empty);
 *  asked for while the page loads, it starts as soon as the page can run. */
export async function runDemo() {
  if (!state.ready) {
    if (queued) return;
    queued = true;
    $('demo-run').textContent = 'The demo starts when the network has loaded…';
    setStage('the demo attack starts as soon as the network has loaded');
    try { await ready; } finally { queued = false; $('demo-run').textContent = 'Run the demo attack'; }
  }
  /** @type {HTMLElement} */ (document.querySelector('.tabs button[data-mode="untargeted"]')).click();
  // the demo's values are defaults, not choices: a goal picked later brings its own
  setPlainAttack(DEMO.eps, DEMO.steps, false);
  if (state.images.length === 0) {
    const res = await fetch('samples/index.json');
    const list = res.ok ? await res.json() : [];
    if (!list.length) throw new Error('no sample image to attack: add one of your own');
    await addSample(list[0]);
  }
  if ($('max-side').value !== DEMO.size) {
    $('max-side').value = DEMO.size;
    await segment();
  }
  await run();
}

export function wireLanding() {
  $('demo-run').disabled = false;
  $('demo-run').addEventListener('click', () => guarded(runDemo));
  $('tour-start').addEventListener('click', () => openLesson(0));
}
