// The page's client of worker.js: one promise per request, progress callbacks, cancellation,
// and recovery (a worker that traps or ignores a cancel is replaced, the model reloaded).
import { onnxArgs } from './onnx_models.js';

/**
 * @typedef {{stage: string, fraction: number, step?: number, steps?: number, loss?: number,
 *            agreement?: number, miou?: number}} Progress
 */

// With the shared cancel flag a run stops at its next step (a slow adapter may take a while);
// without it a CPU run cannot see the cancel message until it ends, so restart soon.
const CANCEL_GRACE_MS_SHARED = 60000;
const CANCEL_GRACE_MS_PLAIN = 3000;

/**
 * Where every worker's download progress goes (the wasm module, a model's weights): the page's
 * loading bar (loading.js) sets it.
 * @type {{listener: ((b: {file: string, loaded: number, total: number}) => void) | null}}
 */
export const downloads = { listener: null };

/** The wasm module compiled by the first worker: every later worker starts from it (no second
 *  download or compile). @type {WebAssembly.Module | null} */
let sharedModule = null;

export class Api {
  constructor() {
    /** @type {Map<number, {resolve: Function, reject: Function, onProgress?: (p: Progress) => void}>} */
    this.pending = new Map();
    this.nextId = 1;
    /** @type {{model: string, backend: string} | null} the last load, replayed after a restart */
    this.loaded = null;
    /** @type {((msg: string) => void) | null} */
    this.onFatal = null;
    /** @type {Promise<void> | null} the model's reload after a restart, while it runs */
    this.reloading = null;
    this.start();
  }

  start() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    // With cross-origin isolation (scripts/web_serve.py sends COOP/COEP) a shared flag cancels a
    // CPU run mid-loop; elsewhere cancel() reaches the worker between awaits, or restarts it.
    this.cancelFlag = globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
    this.worker.postMessage({ op: 'init', cancelFlag: this.cancelFlag ? this.cancelFlag.buffer : null, module: sharedModule });
    this.worker.onmessage = (ev) => this.receive(ev.data);
    this.worker.onerror = (ev) => this.fatal(`the worker failed: ${ev.message || 'unknown error'}`);
  }

  /** @param {{id: number, status: string, progress?: Progress, result?: any, error?: string}} msg */
  receive(msg) {
    if (msg.id === -1) { this.fatal(msg.error || 'the worker failed'); return; }
    if (msg.id === -2) { if (downloads.listener && msg.progress) downloads.listener(/** @type {any} */ (msg.progress)); return; }
    if (msg.id === -3) { sharedModule = /** @type {any} */ (msg).module; return; }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.status === 'progress') { if (p.onProgress && msg.progress) p.onProgress(msg.progress); return; }
    this.pending.delete(msg.id);
    if (msg.status === 'done') p.resolve(msg.result);
    else p.reject(new Error(msg.error));
  }

  /** Reject everything in flight and start a fresh worker (the wasm instance may be dead). */
  fatal(/** @type {string} */ error) {
    for (const p of this.pending.values()) p.reject(new Error(error));
    this.pending.clear();
    this.worker.terminate();
    this.start();
    if (this.onFatal) this.onFatal(error);
  }

  /**
   * @param {string} op
   * @param {any} args
   * @param {(p: Progress) => void} [onProgress]
   * @param {Transferable[]} [transfer]
   * @returns {Promise<any>}
   */
  call(op, args, onProgress, transfer = []) {
    // after a restart, requests wait for the model to be reloaded (else they reach a worker
    // with no model, e.g. a run started right after a cancel on a host without COOP/COEP)
    if (this.reloading && op !== 'load') return this.reloading.then(() => this.call(op, args, onProgress, transfer));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  /** @param {string} model @param {string} backend @param {(p: Progress) => void} [onProgress] */
  async load(model, backend, onProgress) {
    const r = await this.call('load', { model, backend, ...onnxArgs(model) }, onProgress);
    this.loaded = { model, backend };
    return r;
  }

  /** Ask the running call to stop; restart the worker if it does not within a few seconds. */
  cancel() {
    if (this.cancelFlag) Atomics.store(this.cancelFlag, 0, 1);
    this.worker.postMessage({ op: 'cancel' });
    const inFlight = [...this.pending.keys()];
    setTimeout(() => {
      if (inFlight.some((id) => this.pending.has(id))) {
        const loaded = this.loaded;
        this.fatal('cancelled (the worker was restarted)');
        if (loaded) {
          const reload = this.load(loaded.model, loaded.backend).catch(() => {}).finally(() => { if (this.reloading === reload) this.reloading = null; });
          this.reloading = reload;
        }
      }
    }, this.cancelFlag ? CANCEL_GRACE_MS_SHARED : CANCEL_GRACE_MS_PLAIN);
  }
}
