// The browser benchmark (bench.html): segmentation time and attack steps per second of the
// page's own path (the worker pool of pool.js) per backend, worker count and batch size. Driven
// by headless Chromium through scripts/web_bench_page.mjs, or opened by hand. Parameters come
// from the address (see bench.html); the result is shown as a table and as JSON
// (`window.benchResult`, `#bench-json`; `document.body.dataset.done` is set when finished).
import { Pool } from './pool.js';

const q = new URLSearchParams(location.search);
const list = (/** @type {string} */ k, /** @type {string} */ d) => (q.get(k) || d).split(',').filter(Boolean);
const params = {
  model: q.get('model') || 'espnetv2-voc-s0.5',
  backends: list('backends', 'cpu,webgpu'),
  workers: list('workers', '1,2,4').map(Number),
  batches: list('batches', '1,4').map(Number),
  steps: Number(q.get('steps') || 3),
  size: Number(q.get('size') || 0),
  kind: q.get('kind') || 'apgd',
  forceWebgpu: q.get('forceWebgpu') === '1',
  progressEvery: Number(q.get('progressEvery') || 1),
};
/** The attack timed: the family of `kind`, ε = 8/255, `steps` steps, from the clean image; the
 * loss and maps read back every `progressEvery` steps (with more than 1, compare `attack_s`). */
const attackOptions = () => ({ kind: params.kind, eps: '8/255', steps: params.steps, progress_every: params.progressEvery });
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const stage = (/** @type {string} */ s) => { $('bench-stage').textContent = s; };

/** The first `n` VOC samples (the page's gallery), as bytes with their size. @param {number} n */
async function samples(n) {
  /** @type {{file: string, name: string}[]} */
  const index = await (await fetch('samples/index.json')).json();
  const voc = index.filter((s) => s.name.startsWith('voc/'));
  const picked = (voc.length >= n ? voc : index).slice(0, n);
  if (picked.length < n) throw new Error(`only ${picked.length} sample images (run scripts/web_build.sh)`);
  return Promise.all(picked.map(async (s) => {
    const bytes = new Uint8Array(await (await fetch(`samples/${s.file}`)).arrayBuffer());
    const bmp = await createImageBitmap(new Blob([bytes]));
    return { name: s.name, bytes, width: bmp.width, height: bmp.height };
  }));
}

/** The median of a list. @param {number[]} v */
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };

/**
 * One row: segment twice, then attack `params.steps` steps, timing each iterate.
 * @param {Pool} pool @param {string} backend @param {number} workers @param {{bytes: Uint8Array, width: number, height: number}[]} imgs
 */
async function measure(pool, backend, workers, imgs) {
  const [w, h] = await pool.call('inputSize', { width: imgs[0].width, height: imgs[0].height, maxSide: params.size });
  const images = () => imgs.map((i) => i.bytes.slice());
  let t = performance.now();
  await pool.call('segment', { images: images(), width: w, height: h });
  const segmentFirst = (performance.now() - t) / 1000;
  t = performance.now();
  await pool.call('segment', { images: images(), width: w, height: h });
  const segment = (performance.now() - t) / 1000;
  /** @type {number[]} */
  const stamps = [];
  t = performance.now();
  const options = attackOptions();
  await pool.call('attack', { images: images(), width: w, height: h, options, targetMap: null }, (/** @type {any} */ p) => {
    if (p.stage === 'attack') stamps.push(performance.now());
  });
  const end = performance.now();
  const attack = (end - t) / 1000;
  const gaps = stamps.slice(1).map((v, i) => (v - stamps[i]) / 1000);
  const step = gaps.length > 1 ? median(gaps.slice(1)) : gaps[0];
  const split = pool.lastSplit;
  return {
    backend, workers, batch: imgs.length, width: w, height: h, segment_first_s: segmentFirst, segment_s: segment,
    attack_s: attack, before_first_iterate_s: (stamps[0] - t) / 1000, after_last_iterate_s: (end - stamps[stamps.length - 1]) / 1000, steps: params.steps, first_step_s: gaps[0], step_s: step, steps_per_s: 1 / step, image_steps_per_s: imgs.length / step,
    ran_on_workers: split ? split.workers : 1, one_worker_why: split ? split.why : null,
  };
}

/** @param {any} row */
function show(row) {
  const f = (/** @type {number} */ v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const tr = document.createElement('tr');
  const cells = row.skipped
    ? [row.backend, row.workers, row.batch, '', '', '', '', '', '', '', '', row.skipped]
    : [row.backend, row.workers, row.batch, `${row.width}×${row.height}`, f(row.segment_first_s), f(row.segment_s), f(row.attack_s, 2), f(row.first_step_s),
      f(row.step_s), f(row.steps_per_s), f(row.image_steps_per_s), row.ran_on_workers > 1 ? `${row.ran_on_workers} workers` : `one worker${row.one_worker_why ? ` (${row.one_worker_why})` : ''}`];
  tr.replaceChildren(...cells.map((c) => { const td = document.createElement('td'); td.textContent = String(c); return td; }));
  $('bench-table').querySelector('tbody')?.append(tr);
}

/** Whether the attack shares its runs among workers (restarts, SEA), so a small batch gains. @param {Pool} pool */
async function byRuns(pool) {
  const split = await pool.workers[0].call('attackSplit', { options: attackOptions() });
  return split.by_runs == null && split.runs > 1;
}

/** The WebGPU adapter as the wasm API classifies it, asked in a worker. */
async function adapter() {
  const pool = new Pool(1);
  try { return await pool.workers[0].call('probeAdapter', {}); } finally { pool.close(); }
}

async function main() {
  const result = { params, environment: { cores: navigator.hardwareConcurrency, userAgent: navigator.userAgent, crossOriginIsolated: globalThis.crossOriginIsolated }, adapter: null, rows: /** @type {any[]} */ ([]) };
  const imgs = await samples(Math.max(...params.batches));
  for (const backend of params.backends) {
    if (backend === 'webgpu') {
      const a = await adapter();
      result.adapter = a;
      if (a.kind !== 'hardware' && !(a.kind === 'software' && params.forceWebgpu)) {
        const row = { backend, workers: 1, batch: '–', skipped: `no hardware adapter (${a.kind}: ${a.description}); forceWebgpu=1 runs a software one` };
        result.rows.push(row); show(row); continue;
      }
    }
    for (const workers of backend === 'webgpu' ? [1] : params.workers) {
      const pool = new Pool(workers);
      try {
        stage(`loading ${params.model} on ${backend} in ${workers} worker(s)…`);
        const t = performance.now();
        const loaded = await pool.load(params.model, backend);
        await pool.othersReady;
        const load = (performance.now() - t) / 1000;
        for (const batch of params.batches) {
          if (batch < workers && workers > 1 && !(await byRuns(pool))) {
            const row = { backend, workers, batch, skipped: `a batch of ${batch} uses at most ${batch} worker(s) for this attack: see the ${batch}-worker row` };
            result.rows.push(row); show(row); continue;
          }
          stage(`${backend}, ${workers} worker(s), batch ${batch}…`);
          const row = { ...(await measure(pool, backend, workers, imgs.slice(0, batch))), device: loaded.backend, load_s: load };
          result.rows.push(row); show(row);
        }
      } finally {
        pool.close();
      }
    }
  }
  return result;
}

main().then((r) => {
  stage('done');
  $('bench-json').textContent = JSON.stringify(r, null, 1);
  /** @type {any} */ (window).benchResult = r;
  document.body.dataset.done = '1';
}, (e) => {
  stage(`failed: ${e instanceof Error ? e.message : String(e)}`);
  /** @type {any} */ (window).benchResult = { error: String(e instanceof Error ? e.message : e) };
  document.body.dataset.done = '1';
});
