// The loading bar under the landing: bytes of the wasm module and of each model's weights as they
// download (worker.js reports them), then the steps that follow; gone once the page can run.
import { $ } from './state.js';
import { downloads } from './api.js';

const MB = 1e6;
/** @type {Map<string, {loaded: number, total: number}>} */
const files = new Map();
let done = false;

/** What a file is, for the user. @param {string} file */
function what(file) {
  if (file.endsWith('.wasm')) return 'the network code (WebAssembly)';
  return `the model's weights (${file.replace(/^weights\//, '')})`;
}

/** @param {number} n */
const mb = (n) => `${(n / MB).toFixed(1)} MB`;

/** @param {{file: string, loaded: number, total: number}} b */
function onBytes(b) {
  if (done) return;
  files.set(b.file, { loaded: b.loaded, total: b.total });
  const bar = /** @type {HTMLProgressElement} */ ($('load-progress'));
  if (b.total > 0) { bar.max = b.total; bar.value = Math.min(b.loaded, b.total); } else bar.removeAttribute('value');
  const of = b.total > 0 ? ` / ${mb(b.total)}` : '';
  const finished = b.total > 0 && b.loaded >= b.total;
  $('load-text').textContent = finished ? `${what(b.file)}: ${mb(b.loaded)} downloaded; compiling…` : `downloading ${what(b.file)}: ${mb(b.loaded)}${of}`;
  document.body.dataset.downloaded = JSON.stringify(Object.fromEntries(files));
}

/** A step after the downloads (building the network, segmenting). @param {string} text */
export function loadingStage(text) {
  if (done) return;
  $('load-text').textContent = text;
  $('load-progress').removeAttribute('value');
}

/** A model load starts: show the bar again (its weights' bytes, then the steps). */
export function loadingStart() {
  done = false;
  $('loading').classList.remove('done');
}

/** The page can run: hide the bar. */
export function loadingDone() {
  done = true;
  $('loading').classList.add('done');
}

export function wireLoading() { downloads.listener = onBytes; }
