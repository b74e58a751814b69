// A pool of workers for the CPU backend: each worker (an Api, see api.js) holds its own wasm
// instance and model. A batch attack whose images are attacked independently (the wasm API's
// `attackSplit` says which: APGD without early stop, restarts or a defense) is split into
// contiguous parts, one per worker (`Session.attack` with `part: {images: [first, count]}`), and
// the parts are merged by the wasm API (`Session.mergeAttack`) into exactly what one worker's
// `attack` returns: the same maps, per-image and pooled metrics (the history's loss up to
// rounding). Otherwise an ensemble (restarts, SEA's losses, a worst case's attacks: a single
// image too) shares its runs among the workers (`part: {runs: [first, count]}`, merged by
// `Session.mergeAttack` too), again with the same result. Segmenting a batch
// splits the same way. WebGPU, and every other call, stays on the first worker (one GPU).
// 'auto' on a hardware WebGPU adapter first times the two devices (calibrate.js).
// The live progress of a split attack is merged per iterate: the images' maps and agreements
// in batch order, the loss averaged over the parts by their image counts.
import { Api } from './api.js';
import { calibrate } from './calibrate.js';

/** How many workers at most when the page does not say (`?workers=N` forces N). */
const DEFAULT_CAP = 4;

/** @typedef {import('./api.js').Progress & {maps?: Uint8Array[], agreements?: number[], targeted?: boolean}} LiveProgress */

/** The pool size: `?workers=N` (1–16) from the page's address, else min(cores, 4). */
export function poolSize() {
  const forced = Number(new URLSearchParams(globalThis.location ? location.search : '').get('workers'));
  if (Number.isInteger(forced) && forced >= 1 && forced <= 16) return forced;
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, DEFAULT_CAP));
}

/**
 * Contiguous parts of `n` images over `k` workers, as even as possible, as [first, count].
 * @param {number} n @param {number} k @returns {[number, number][]}
 */
export function parts(n, k) {
  const out = [];
  let first = 0;
  for (let i = 0; i < k; i++) {
    const count = Math.floor(n / k) + (i < n % k ? 1 : 0);
    if (count > 0) out.push(/** @type {[number, number]} */ ([first, count]));
    first += count;
  }
  return out;
}

export class Pool {
  /** @param {number} [size] the number of workers on the CPU backend */
  constructor(size = poolSize()) {
    this.size = size;
    /** @type {Api[]} worker 0 always exists; the others start when a model loads on the CPU */
    this.workers = [new Api()];
    /** @type {boolean} whether the loaded model runs on the CPU in every worker */
    this.cpu = false;
    /** @type {((msg: string) => void) | null} */
    this._onFatal = null;
    /** @type {Set<Api>} the workers with the model loaded */
    this.ready = new Set();
    /** @type {Promise<any>} the other workers' loads */
    this.othersReady = Promise.resolve();
    /** @type {{workers: number, why: string | null} | null} how the last attack ran */
    this.lastSplit = null;
  }

  set onFatal(/** @type {((msg: string) => void) | null} */ f) { this._onFatal = f; for (const w of this.workers) w.onFatal = f; }
  get onFatal() { return this._onFatal; }
  /** @returns {{model: string, backend: string} | null} */
  get loaded() { return this.workers[0].loaded; }

  /**
   * Load the model in worker 0 on `backend`; on the CPU also in the other workers.
   * @param {string} model @param {string} backend @param {(p: import('./api.js').Progress) => void} [onProgress]
   */
  async load(model, backend, onProgress) {
    // 'auto' with a hardware adapter: time one forward on each device (calibrate.js)
    /** @type {import('./calibrate.js').Calibration | null} */
    let calibration = null;
    if (backend === 'auto') {
      this.grow(2);
      calibration = await calibrate(this.workers[0], this.workers[1], model, onProgress);
      if (calibration) backend = calibration.backend;
    }
    const r = await this.workers[0].load(model, backend, onProgress);
    this.cpu = !r.webgpu;
    const want = this.cpu ? this.size : 1;
    this.grow(want);
    for (const w of this.workers.splice(want)) w.worker.terminate();
    // the other workers load in the background: the first segmentation does not wait for them
    // (it uses those already loaded), a split attack does
    const others = this.workers.slice(1);
    this.ready = new Set([this.workers[0]]);
    this.othersReady = Promise.all(others.map((w) => w.load(model, 'cpu').then(() => { this.ready.add(w); })));
    this.othersReady.catch(() => {});
    return { ...r, workers: this.workers.length, calibration };
  }

  /** Start workers until there are `n`. @param {number} n */
  grow(n) {
    while (this.workers.length < n) {
      const w = new Api();
      w.onFatal = this._onFatal;
      this.workers.push(w);
    }
  }

  /**
   * As Api.call; 'attack' and 'segment' of several images are split over the workers on the CPU.
   * @param {string} op @param {any} args @param {(p: any) => void} [onProgress] @param {Transferable[]} [transfer]
   */
  async call(op, args, onProgress, transfer = []) {
    const n = args && Array.isArray(args.images) ? args.images.length : 0;
    const ready = this.workers.filter((w) => this.ready.has(w));
    if (op === 'segment' && this.cpu && Math.min(ready.length, n) > 1) return this.segmentSplit(args, ready.slice(0, n), onProgress);
    if (op === 'attack') {
      if (this.cpu && this.workers.length > 1) await this.othersReady.catch(() => {});
      const ws = this.workers.filter((w) => this.ready.has(w));
      /** @type {{by_images?: string | null, runs: number, by_runs?: string | null} | null} (absent: it can) */
      const split = ws.length > 1 && this.cpu ? await this.workers[0].call('attackSplit', { options: args.options }) : null;
      if (split && split.by_images == null && n > 1) return this.attackSplit(args, ws.slice(0, n), onProgress);
      if (split && split.by_runs == null && split.runs > 1) return this.runsSplit(args, ws.slice(0, split.runs), split.runs, onProgress);
      const why = n < 2 ? null : !this.cpu ? 'WebGPU runs on one worker' : ws.length < 2 ? 'the pool has one worker' : (split && split.by_images) ?? null;
      this.lastSplit = { workers: 1, why };
    }
    return this.workers[0].call(op, args, onProgress, transfer);
  }

  /** End every worker (the pool is not used afterwards). */
  close() { for (const w of this.workers) w.worker.terminate(); this.workers = []; }

  /** Ask every worker's running call to stop (each restarts if it does not). */
  cancel() { for (const w of this.workers) w.cancel(); }

  /**
   * Run one call per part on `ws[i]`; if one fails, the others are cancelled.
   * @param {Api[]} ws @param {[number, number][]} ps @param {(w: Api, part: [number, number], i: number) => Promise<any>} f
   */
  async each(ws, ps, f) {
    const calls = ps.map((p, i) => f(ws[i], p, i));
    try {
      return await Promise.all(calls);
    } catch (e) {
      ps.forEach((_, i) => ws[i].cancel());
      await Promise.allSettled(calls);
      throw e;
    }
  }

  /** @param {any} args @param {Api[]} ws @param {(p: any) => void} [onProgress] */
  async segmentSplit(args, ws, onProgress) {
    const t0 = performance.now();
    const ps = parts(args.images.length, ws.length);
    const rs = await this.each(ws, ps, (w, [first, count], i) =>
      w.call('segment', { ...args, images: args.images.slice(first, first + count) }, i === 0 ? onProgress : undefined));
    return { width: rs[0].width, height: rs[0].height, images: rs.flatMap((r) => r.images), maps: rs.flatMap((r) => r.maps), seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * An ensemble attack (restarts, SEA's losses, a worst case's attacks) with its runs shared
   * among the workers (`Session.attack` with `part: {runs}`), each on the whole batch, merged by
   * `Session.mergeAttack` into what one
   * worker's `attack` returns. Live progress comes from the worker running the first runs.
   * @param {any} args @param {Api[]} ws @param {number} runs @param {(p: LiveProgress) => void} [onProgress]
   */
  async runsSplit(args, ws, runs, onProgress) {
    const t0 = performance.now();
    const ps = parts(runs, ws.length);
    const lists = await this.each(ws, ps, (w, [first, count], i) =>
      w.call('attack', { ...args, part: { runs: [first, count] } }, i === 0 ? onProgress : undefined));
    const r = await this.workers[0].call('mergeAttack', {
      images: args.images, width: args.width, height: args.height, options: args.options,
      parts: lists, seconds: (performance.now() - t0) / 1000,
    });
    this.lastSplit = { workers: ps.length, why: null };
    return r;
  }

  /** @param {any} args @param {Api[]} ws @param {(p: LiveProgress) => void} [onProgress] */
  async attackSplit(args, ws, onProgress) {
    const t0 = performance.now();
    const ps = parts(args.images.length, ws.length);
    const live = liveMerger(ps, onProgress);
    const partResults = await this.each(ws, ps, (w, [first, count], i) =>
      w.call('attack', { ...args, part: { images: [first, count] } }, (p) => live(i, p)));
    const r = await this.workers[0].call('mergeAttack', {
      images: args.images, width: args.width, height: args.height, options: args.options,
      parts: partResults, seconds: (performance.now() - t0) / 1000,
    });
    this.lastSplit = { workers: ps.length, why: null };
    return r;
  }
}

/**
 * The progress callback of each part, merged: an attack iterate is shown once every part has
 * reached it (maps and agreements in batch order); other stages come from the first part.
 * @param {[number, number][]} ps @param {((p: LiveProgress) => void) | undefined} onProgress
 * @returns {(i: number, p: LiveProgress) => void}
 */
function liveMerger(ps, onProgress) {
  /** @type {LiveProgress[][]} */
  const queues = ps.map(() => []);
  const n = ps.reduce((s, [, c]) => s + c, 0);
  return (i, p) => {
    if (!onProgress) return;
    if (p.stage !== 'attack') { if (i === 0) onProgress(p); return; }
    queues[i].push(p);
    while (queues.every((q) => q.length > 0)) {
      const it = queues.map((q) => /** @type {LiveProgress} */ (q.shift()));
      const agreements = it.flatMap((q) => q.agreements || []);
      onProgress({
        ...it[0],
        fraction: Math.min(...it.map((q) => q.fraction ?? 0)),
        loss: it.reduce((s, q, j) => s + (q.loss ?? 0) * ps[j][1], 0) / n,
        agreements,
        agreement: agreements.reduce((s, a) => s + a, 0) / agreements.length,
        maps: it.flatMap((q) => q.maps || []),
        miou: undefined,
      });
    }
  };
}
