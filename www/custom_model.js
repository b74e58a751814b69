// "Your own model": an ONNX file picked or dropped on the page, described by a small form (what
// its metadata does not say: preprocessing, classes), checked by the worker (registerOnnx reads
// the graph and runs it once), then added to the model menu and loaded like a zoo model. A bad
// file only shows its error here; the loaded model stays.
import { api, $ } from './state.js';
import { keepOnnx } from './onnx_models.js';

/** The largest file the wasm reader takes (as src/model/onnx/read.rs). */
const MAX_BYTES = 200 * 1024 * 1024;

/** The form's fields: key of docs/onnx.md → [label, placeholder or options, title]. */
const FIELDS = [
  ['mean', 'mean', '0.485,0.456,0.406', 'per channel, subtracted after the range (empty: none)'],
  ['std', 'std', '0.229,0.224,0.225', 'per channel, divided by (empty: none)'],
  ['range', 'range', ['', '0-1', '0-255'], 'input values the graph expects (default 0-1)'],
  ['channels', 'channels', ['', 'RGB', 'BGR'], 'channel order (default RGB)'],
  ['layout', 'layout', ['', 'NCHW', 'NHWC'], 'input layout (default NCHW)'],
  ['scores', 'output', ['', 'logits', 'probabilities'], 'what the output holds (default logits)'],
  ['dataset', 'dataset', ['', 'voc', 'cityscapes', 'selfie'], 'classes and palette of a dataset'],
  ['classes', 'classes', 'background,road,…', 'class names in output order (default: numbered)'],
  ['size', 'size', '512x512', 'working size of a graph whose size is free'],
];

/** @param {string} tag @param {Record<string, string>} [attrs] @param {(string | Node)[]} [kids] */
function el(tag, attrs = {}, kids = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** The panel: drop zone, file button, form, status line. */
function build() {
  const form = el('div', { class: 'onnx-form' });
  for (const [key, label, hint, title] of FIELDS) {
    const input = Array.isArray(hint)
      ? el('select', { 'data-key': key }, hint.map((o) => new Option(o || 'from the file', o)))
      : el('input', { 'data-key': key, placeholder: hint, size: '18' });
    form.append(el('label', { title }, [`${label} `, input]));
  }
  const file = el('input', { type: 'file', accept: '.onnx', id: 'onnx-file' });
  const zone = el('div', { id: 'onnx-drop', class: 'drop', tabindex: '0' }, ['Drop an .onnx segmentation network here, or ', file]);
  const status = el('p', { id: 'onnx-status', class: 'hint', role: 'status' });
  return el('details', { id: 'onnx-model', class: 'onnx-model' }, [
    el('summary', {}, ['Your own model (ONNX)']),
    el('p', { class: 'hint' }, ['Any network exported to ONNX (torch.onnx.export, tf2onnx, …) with one image input and a score map output. ',
      'Say here what the file\'s metadata does not (docs/onnx.md); then drop the file.']),
    zone, form, status,
  ]);
}

/** The form as the JSON description registerOnnx takes (empty fields left out). @param {HTMLElement} panel */
function description(panel) {
  /** @type {Record<string, string>} */
  const d = {};
  for (const f of panel.querySelectorAll('[data-key]')) {
    const v = /** @type {HTMLInputElement} */ (f).value.trim();
    if (v) d[/** @type {HTMLElement} */ (f).dataset.key || ''] = v;
  }
  return JSON.stringify(d);
}

/**
 * Read, check and load one file.
 * @param {File} file @param {HTMLElement} panel
 */
async function bring(file, panel) {
  const status = /** @type {HTMLElement} */ (panel.querySelector('#onnx-status'));
  const say = (/** @type {string} */ t, bad = false) => { status.textContent = t; status.style.color = bad ? 'var(--bad, #c0392b)' : ''; };
  if (!file.name.toLowerCase().endsWith('.onnx')) { say(`${file.name}: not an .onnx file`, true); return; }
  if (file.size > MAX_BYTES) { say(`${file.name} is ${(file.size / 1048576).toFixed(1)} MiB: models up to 200 MiB are supported`, true); return; }
  say(`reading ${file.name}…`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const desc = description(panel);
  let info;
  try {
    info = await api.call('registerOnnx', { model: file.name, bytes, description: desc });
  } catch (err) {
    say(err instanceof Error ? err.message : String(err), true);
    return;
  }
  keepOnnx(file.name, bytes, desc);
  const menu = /** @type {HTMLSelectElement} */ ($('model'));
  let opt = [...menu.options].find((o) => o.value === file.name);
  if (!opt) { opt = new Option(`${file.name} (ONNX)`, file.name); menu.add(opt); }
  menu.value = file.name;
  const what = `${file.name}: ${info.outputs} scores, ${info.classes.length} classes, ${info.size_rule}, ${info.steps} steps`;
  say(`${what} — loading…`);
  menu.dispatchEvent(new Event('change'));
  // the page loads it (main.js); say so once the worker has it (errors go to the banner)
  for (let i = 0; i < 600 && api.loaded?.model !== file.name; i++) await new Promise((r) => setTimeout(r, 200));
  if (api.loaded?.model === file.name && status.textContent === `${what} — loading…`) say(`${what} — loaded (${api.loaded.backend})`);
}

/** Put the panel under the header's model menu and wire the picker and the drop zone. */
export function wireCustomModel() {
  const panel = build();
  const anchor = $('gpu-note') || document.body.firstElementChild;
  anchor?.after(panel);
  const file = /** @type {HTMLInputElement} */ (panel.querySelector('#onnx-file'));
  file.addEventListener('change', () => { if (file.files && file.files[0]) bring(file.files[0], panel); });
  const zone = /** @type {HTMLElement} */ (panel.querySelector('#onnx-drop'));
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    const f = ev.dataTransfer && ev.dataTransfer.files[0];
    if (f) bring(f, panel);
  });
}
