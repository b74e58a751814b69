// The universal perturbation of the camera view: crafted on the page's batch in the worker
// (Session.universal, with progress and cancel), or loaded from a delta.png of `advseg
// universal`; downloadable as the same PNG. The worker keeps the current δ for segmentFrame.
import { state, api, $ } from './state.js';
import { guarded } from './status.js';
import { loadModel } from './model.js';

/**
 * The current universal perturbation.
 * @typedef {{width: number, height: number, eps: number, delta: Float32Array, png: Uint8Array | null, source: string}} Delta
 */

/** @type {Delta | null} */
export let current = null;
let crafting = false;

/** Switch the page to model `name` unless it is loaded already. @param {string} name */
export async function loadModelNamed(name) {
  if (state.info && state.info.name === name) return;
  $('model').value = name;
  await loadModel();
}

/** @param {string} text */
function say(text) { $('uni-status').textContent = text; }

/** Enable the δ buttons as the state allows. */
export function updateUniversal() {
  $('uni-craft').disabled = crafting || state.images.length === 0;
  $('uni-cancel').disabled = !crafting;
  $('uni-download').disabled = crafting || !current;
  document.body.dataset.universal = current ? `${current.width}x${current.height}` : '';
}

/** Make `d` the current δ (also in the worker). @param {Delta} d */
async function use(d) {
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

/** Pooled numbers of a set for the status line. @param {any} set */
function pooled(set) {
  const u = set.universal.pooled, r = set.random.pooled;
  const pct = (/** @type {number} */ x) => `${(100 * x).toFixed(1)} %`;
  const hidden = u.vanished != null ? `; person → background ${pct(u.vanished)} (random δ ${pct(r.vanished ?? 0)})` : '';
  return `accuracy vs clean ${pct(u.accuracy_vs_clean)} (random δ ${pct(r.accuracy_vs_clean)})${hidden}`;
}

/** How many gallery images, not in the batch, measure δ on images it was not crafted on. */
const HELD_APART = 3;

/** Whether two byte arrays are equal. @param {Uint8Array} a @param {Uint8Array} b */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Up to HELD_APART gallery samples that are not in the batch — by name or by content (an
 *  uploaded copy of a sample is the same image) — as names and bytes (none offline). */
async function heldApart() {
  /** @type {{names: string[], bytes: Uint8Array[]}} */
  const out = { names: [], bytes: [] };
  try {
    const res = await fetch('samples/index.json');
    if (!res.ok) return out;
    /** @type {{name: string, file: string}[]} */
    const list = await res.json();
    const inBatch = new Set(state.images.map((im) => im.name));
    for (const s of list) {
      if (out.names.length >= HELD_APART) break;
      if (inBatch.has(s.name)) continue;
      const r = await fetch(`samples/${s.file}`);
      if (!r.ok) continue;
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (state.images.some((im) => sameBytes(im.bytes, bytes))) continue;
      out.names.push(s.name); out.bytes.push(bytes);
    }
  } catch { /* offline: no held-apart scores */ }
  return out;
}

/** Craft δ on the batch with the camera view's model (selfie first), and score it on gallery
 *  images held apart from the crafting. */
async function craft() {
  await loadModelNamed($('cam-model').value);
  if (!state.size || state.images.length === 0) throw new Error('add images to the batch first: δ is crafted on them');
  // the camera pauses and hands over the frame it is segmenting, if any
  /** @type {{on: boolean, waits: Promise<unknown>[]}} */
  const pause = { on: true, waits: [] };
  document.dispatchEvent(new CustomEvent('universal-crafting', { detail: pause }));
  await Promise.allSettled(pause.waits);
  crafting = true; updateUniversal();
  try {
    const [width, height] = state.size;
    const images = state.images.map((im) => im.bytes.slice());
    const held = await heldApart();
    const r = await api.call('universal', { images, heldOut: held.bytes, width, height, options: options() }, (p) => {
      if (p.stage === 'attack') say(`crafting δ: step ${(p.step ?? 0) + 1}/${p.steps} · loss ${(p.loss ?? NaN).toFixed(3)}`);
      else say(p.stage);
    });
    await use({ width: r.width, height: r.height, eps: r.eps, delta: r.delta, png: r.png, source: 'crafted' });
    const apart = r.report.held_out ? ` — on ${held.names.length} gallery image(s) held apart (${held.names.join(', ')}): ${pooled(r.report.held_out)}` : '';
    say(`δ crafted on ${images.length} image(s) in ${r.report.seconds.toFixed(1)} s (ε ${Number($('uni-eps').value)}/255): ${pooled(r.report.crafting)}${apart}`);
    document.body.dataset.universalReport = JSON.stringify(r.report.crafting.universal.pooled);
    document.body.dataset.universalHeldOut = r.report.held_out ? JSON.stringify(r.report.held_out.universal.pooled) : '';
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
  $('uni-cancel').addEventListener('click', () => api.cancel());
  $('uni-load').addEventListener('change', (/** @type {Event} */ ev) => {
    const f = /** @type {HTMLInputElement} */ (ev.target).files?.[0];
    if (f) guarded(() => load(f));
  });
  $('uni-load-button').addEventListener('click', () => $('uni-load').click());
  $('uni-download').addEventListener('click', download);
  updateUniversal();
}
