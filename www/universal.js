// The camera view's own model (a worker of its own: the page's model and results stay as they
// are) and its universal perturbation: crafted in that worker (Session.universal, with progress
// and cancel) on at least a few images — the batch, topped up from the gallery, since a δ crafted
// on one image does not carry over to other frames —, scored on gallery images held apart from
// the crafting against a random δ (a small table), or loaded from a delta.png of
// `advseg universal`; downloadable as the same PNG. The worker keeps the current δ for
// segmentFrame.
import { state, $ } from './state.js';
import { Api } from './api.js';
import { guarded, showError } from './status.js';
import { pct } from './explain.js';

/**
 * The current universal perturbation.
 * @typedef {{width: number, height: number, eps: number, delta: Float32Array, png: Uint8Array | null, source: string}} Delta
 */

/** @type {Delta | null} */
export let current = null;
let crafting = false;
/** @type {Api | null} the camera view's worker */
let cam = null;
/** @type {{name: string, info: import('./state.js').ModelInfo} | null} the model it holds */
let loaded = null;

/** The camera view's worker, with the camera view's model loaded (the page's model is not touched). */
export async function cameraApi() {
  const name = $('cam-model').value;
  if (!cam) {
    cam = new Api();
    // a restarted worker (a cancel it ignored, a trap) reloads its model but has lost δ
    cam.onFatal = (msg) => {
      if (current) { current = null; updateUniversal(); document.dispatchEvent(new CustomEvent('universal-changed')); }
      if (!msg.startsWith('cancelled')) showError(msg);
    };
  }
  if (!loaded || loaded.name !== name) {
    say(`loading ${name} for the camera view…`);
    const r = await cam.load(name, $('backend-choice').value === 'webgpu' ? 'webgpu' : 'cpu');
    loaded = { name, info: r.info };
    if (current) { current = null; updateUniversal(); document.dispatchEvent(new CustomEvent('universal-changed')); }
    say(`${r.info.title} loaded for the camera view`);
  }
  return cam;
}

/** The classes of the camera view's model (null before it loads). */
export function cameraInfo() { return loaded ? loaded.info : null; }

/** @param {string} text */
function say(text) { $('uni-status').textContent = text; }

/** Enable the δ buttons as the state allows. */
export function updateUniversal() {
  $('uni-craft').disabled = crafting;
  $('uni-cancel').disabled = !crafting;
  $('uni-download').disabled = crafting || !current;
  document.body.dataset.universal = current ? `${current.width}x${current.height}` : '';
}

/** Make `d` the current δ (also in the worker). @param {Delta} d */
async function use(d) {
  const api = await cameraApi();
  await api.call('setDelta', { delta: d.delta.slice(), eps: d.eps, width: d.width, height: d.height });
  current = d;
  updateUniversal();
  document.dispatchEvent(new CustomEvent('universal-changed'));
}

/** The spec of the form (the core's UniversalSpec keys). */
function options() {
  const goal = $('uni-goal').value;
  /** @type {Record<string, any>} */
  const o = { goal, eps: `${Number($('uni-eps').value)}/255`, steps: Number($('uni-steps').value) };
  if (goal === 'hide-class') o.class = 'person';
  return o;
}

/** How many gallery images, not among the crafting ones, measure δ on images it was not crafted on. */
const HELD_APART = 3;

/** Whether two byte arrays are equal. @param {Uint8Array} a @param {Uint8Array} b */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The crafting images (the batch, topped up from the gallery to `want`) and up to HELD_APART
 * gallery images held apart from them — by name and by content (an uploaded copy of a sample is
 * the same image) —, as names and bytes.
 * @param {number} want
 */
async function imageSets(want) {
  /** @type {{names: string[], bytes: Uint8Array[]}} */
  const craft = { names: state.images.map((im) => im.name), bytes: state.images.map((im) => im.bytes.slice()) };
  /** @type {{names: string[], bytes: Uint8Array[]}} */
  const held = { names: [], bytes: [] };
  try {
    const res = await fetch('samples/index.json');
    /** @type {{name: string, file: string}[]} */
    const list = res.ok ? await res.json() : [];
    for (const s of list) {
      if (craft.names.length >= want && held.names.length >= HELD_APART) break;
      if (craft.names.includes(s.name)) continue;
      const r = await fetch(`samples/${s.file}`);
      if (!r.ok) continue;
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (craft.bytes.some((b) => sameBytes(b, bytes))) continue;
      const set = craft.names.length < want ? craft : held;
      if (set === held && held.names.length >= HELD_APART) continue;
      set.names.push(s.name); set.bytes.push(bytes);
    }
  } catch { /* offline: the batch alone, no held-apart scores */ }
  return { craft, held };
}

/** The table: crafting set and held-apart set, δ against a random δ. @param {any} report */
function table(report) {
  const hide = report.spec.goal === 'hide-class';
  const head = ['images', hide ? 'person → background: δ' : '', hide ? 'random δ' : '', 'pixels with their clean class: δ', 'random δ'].filter(Boolean);
  const row = (/** @type {string} */ label, /** @type {any} */ set) => {
    const u = set.universal.pooled, r = set.random.pooled;
    return [`${label}: ${set.images.join(', ')}`, ...(hide ? [pct(u.vanished, 1), pct(r.vanished, 1)] : []), pct(u.accuracy_vs_clean, 1), pct(r.accuracy_vs_clean, 1)];
  };
  const rows = [row('crafted on', report.crafting)];
  if (report.held_out) rows.push(row('held apart', report.held_out));
  const t = $('uni-table');
  const th = (/** @type {string} */ s) => { const e = document.createElement('th'); e.textContent = s; return e; };
  const hr = document.createElement('tr');
  hr.replaceChildren(...head.map(th));
  t.querySelector('thead').replaceChildren(hr);
  t.querySelector('tbody').replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    tr.replaceChildren(...cells.map((c) => { const td = document.createElement('td'); td.textContent = c; return td; }));
    return tr;
  }));
  t.hidden = false;
}

/** Craft δ with the camera view's model on the crafting images; score it on the held-apart ones. */
async function craft() {
  const api = await cameraApi();
  const want = Math.max(1, Math.round(Number($('uni-count').value) || 3));
  const { craft: set, held } = await imageSets(want);
  if (set.bytes.length === 0) throw new Error('no images to craft δ on: add some to the batch');
  // the camera pauses and hands over the frame it is segmenting, if any
  /** @type {{on: boolean, waits: Promise<unknown>[]}} */
  const pause = { on: true, waits: [] };
  document.dispatchEvent(new CustomEvent('universal-crafting', { detail: pause }));
  await Promise.allSettled(pause.waits);
  crafting = true; updateUniversal();
  try {
    const bmp = await createImageBitmap(new Blob([set.bytes[0]]));
    /** @type {number[]} */
    const [width, height] = await api.call('inputSize', { width: bmp.width, height: bmp.height, maxSide: 0 });
    bmp.close();
    const few = set.bytes.length < 3 ? ` (only ${set.bytes.length}: 3 or more carry over better to other frames)` : '';
    say(`crafting δ on ${set.names.length} image(s)${few}…`);
    const r = await api.call('universal', { images: set.bytes, heldOut: held.bytes, width, height, options: options() }, (p) => {
      if (p.stage === 'attack') say(`crafting δ on ${set.names.length} image(s): step ${(p.step ?? 0) + 1}/${p.steps} · loss ${(p.loss ?? NaN).toFixed(3)}`);
      else say(p.stage);
    });
    r.report.crafting.images = set.names;
    if (r.report.held_out) r.report.held_out.images = held.names;
    await use({ width: r.width, height: r.height, eps: r.eps, delta: r.delta, png: r.png, source: 'crafted' });
    say(`δ crafted on ${set.names.length} image(s) in ${r.report.seconds.toFixed(1)} s (ε ${Number($('uni-eps').value)}/255)${few}; ${r.report.held_out ? `scored on ${held.names.length} gallery image(s) held apart` : 'no held-apart images (offline)'}: see the table.`);
    table(r.report);
    document.body.dataset.universalReport = JSON.stringify(r.report.crafting.universal.pooled);
    document.body.dataset.universalHeldOut = r.report.held_out ? JSON.stringify(r.report.held_out.universal.pooled) : '';
    document.body.dataset.universalImages = JSON.stringify(set.names);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('cancelled')) say(current ? 'cancelled; the previous δ stays' : 'cancelled');
    else throw err;
  } finally {
    crafting = false; updateUniversal();
    document.dispatchEvent(new CustomEvent('universal-crafting', { detail: { on: false, waits: [] } }));
  }
}

/** Load a delta.png. @param {File} file */
async function load(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const api = await cameraApi();
  const d = await api.call('readDeltaPng', { bytes });
  await use({ ...d, png: bytes, source: file.name });
  say(`loaded ${file.name}: ${d.width}×${d.height}, ε ${(255 * d.eps).toFixed(1)}/255`);
}

function download() {
  if (!current || !current.png) return;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([current.png], { type: 'image/png' }));
  a.download = `delta-${current.width}x${current.height}.png`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function wireUniversal() {
  $('uni-craft').addEventListener('click', () => guarded(craft));
  $('uni-cancel').addEventListener('click', () => { if (cam) cam.cancel(); });
  $('uni-load').addEventListener('change', (/** @type {Event} */ ev) => {
    const f = /** @type {HTMLInputElement} */ (ev.target).files?.[0];
    if (f) guarded(() => load(f));
  });
  $('uni-load-button').addEventListener('click', () => $('uni-load').click());
  $('uni-download').addEventListener('click', download);
  $('cam-model').addEventListener('change', () => guarded(async () => { await cameraApi(); }));
  updateUniversal();
}
