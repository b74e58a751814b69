// Errors, the status line, the busy state, and the offline cache of fetched files.
import { state, $ } from './state.js';

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
  document.body.classList.toggle('busy', busy);
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
    if (err instanceof Error && err.message.startsWith('cancelled')) setStage('cancelled');
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
  try { const c = await caches.open('advseg-v1'); await c.addAll(urls); } catch (e) { console.warn('offline cache:', e); }
}
