// Errors, the status line, the busy state, and the offline cache of fetched files.
import { state, $ } from './state.js';
import { OFFLINE_CACHE } from './fetch_progress.js';

/** Show an error in the banner (and the console). @param {unknown} err */
export function showError(err) {
  const msg = err instanceof Error ? err.message : String(err);
  $('banner-text').textContent = msg;
  $('banner').hidden = false;
  console.error(msg);
}

export function hideError() { $('banner').hidden = true; }

/** @param {string} text */
export function setStage(text) { $('stage').textContent = text; }

/** Enable Run and Cancel as a running call (or none) allows. @param {boolean} busy */
export function setBusy(busy) {
  state.busy = busy;
  $('run').disabled = busy || !state.info || state.images.length === 0;
  $('cancel').disabled = !busy;
  // the other buttons that start a run (sweep.js, lessons.js)
  for (const id of ['sweep-run', 'lesson-try']) { const b = $(id); if (b) b.disabled = busy || !state.info; }
  // the demo can be asked for while the page loads (it waits for it), not during a run
  $('demo-run').disabled = busy && state.ready;
  document.body.classList.toggle('busy', busy);
}

/** Runs started so far (attacks, scaling attacks, sweeps, lessons' try-its). */
let runs = 0;

/**
 * A run starts: its id (1, 2, …) and state go to `body[data-run]` as `ID:KIND:running` (the
 * count of runs started to `body[data-runs]`), so that a reader (the e2e tests) can tell this
 * run's numbers from an earlier one's. A run within a run (a lesson's attack) has its own id.
 * @param {string} kind @returns {number}
 */
export function beginRun(kind) {
  runs += 1;
  document.body.dataset.runs = String(runs);
  document.body.dataset.run = `${runs}:${kind}:running`;
  return runs;
}

/**
 * A run ended: `ID:KIND:done`, `:error` or `:cancelled`.
 * @param {number} id @param {string} kind @param {'done' | 'error' | 'cancelled'} outcome
 */
export function endRun(id, kind, outcome) {
  document.body.dataset.run = `${id}:${kind}:${outcome}`;
}

/** How a failed call ended. @param {unknown} err @returns {'error' | 'cancelled'} */
export function failure(err) {
  return err instanceof Error && err.message.startsWith('cancelled') ? 'cancelled' : 'error';
}

/**
 * Run an async action with the banner as the error sink; the page keeps working afterwards.
 * @param {() => Promise<unknown>} fn
 * @returns {Promise<void>}
 */
export async function guarded(fn) {
  try {
    await fn();
  } catch (err) {
    setBusy(false);
    if (failure(err) === 'cancelled') setStage('cancelled');
    else showError(err);
  }
}

/**
 * Put files into the service worker's cache so that the page works offline (the weights and
 * samples the worker fetched before the service worker took control).
 * @param {string[]} urls
 */
export async function cacheForOffline(urls) {
  if (!('caches' in globalThis)) return;
  try { const c = await caches.open(OFFLINE_CACHE); await c.addAll(urls); } catch (e) { console.warn('offline cache:', e); }
}
