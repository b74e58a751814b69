// The batch of images: file picker, drag and drop, paste, the sample gallery, the thumbnails.
import { state, $, MAX_IMAGES } from './state.js';
import { cacheForOffline, guarded, setBusy } from './status.js';
import { segment } from './run.js';
import { renderViews } from './render.js';

/** A sample image of the gallery (`samples/index.json`). @typedef {{file: string, name: string}} Sample */

/**
 * Add images (encoded bytes with a name) to the batch — the oldest drops out at MAX_IMAGES —,
 * show the last one added, then segment the batch.
 * @param {{name: string, blob: Blob}[]} files
 */
export async function addImages(files) {
  for (const { name, blob } of files) {
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let bitmap;
    try {
      bitmap = await createImageBitmap(new Blob([bytes], { type: blob.type || 'application/octet-stream' }));
    } catch {
      throw new Error(`"${name}" (${bytes.length} bytes) is not an image this page can read (PNG or JPEG expected)`);
    }
    const input = { name, bytes, width: bitmap.width, height: bitmap.height, url: URL.createObjectURL(new Blob([bytes])) };
    bitmap.close();
    if (state.images.length >= MAX_IMAGES) {
      const old = state.images.shift();
      if (old) URL.revokeObjectURL(old.url);
    }
    state.images.push(input);
    state.selected = state.images.length - 1;
  }
  renderBatch();
  await segment();
}

/** The thumbnails (click: show, ×: remove) and the target-image menu. */
export function renderBatch() {
  $('batch').replaceChildren(...state.images.map((im, i) => {
    const fig = document.createElement('figure');
    fig.className = i === state.selected ? 'thumb selected' : 'thumb';
    const img = document.createElement('img');
    img.src = im.url; img.alt = im.name;
    const cap = document.createElement('figcaption');
    cap.textContent = `${i + 1}. ${im.name} (${im.width}×${im.height})`;
    const rm = document.createElement('button');
    rm.textContent = '×'; rm.title = 'remove'; rm.className = 'remove';
    rm.addEventListener('click', (ev) => {
      ev.stopPropagation();
      URL.revokeObjectURL(im.url);
      state.images.splice(i, 1);
      state.selected = Math.min(state.selected, Math.max(0, state.images.length - 1));
      renderBatch();
      guarded(segment);
    });
    fig.append(img, cap, rm);
    fig.addEventListener('click', () => { state.selected = i; renderBatch(); renderViews(); });
    return fig;
  }));
  $('target-index').replaceChildren(...state.images.map((im, i) => new Option(`${i + 1} (${im.name})`, String(i))));
  setBusy(state.busy);
}

/**
 * The gallery of sample images (click: add to the batch). Their pictures load with
 * `showGallery`: on a first visit the wasm module goes first.
 * @returns {Promise<Sample[]>} the samples (none without `samples/index.json`)
 */
export async function loadGallery() {
  const res = await fetch('samples/index.json');
  if (!res.ok) { $('gallery').textContent = 'no samples (run scripts/demo.sh)'; return []; }
  /** @type {Sample[]} */
  const list = await res.json();
  $('gallery').replaceChildren(...list.map((s) => {
    const img = document.createElement('img');
    img.dataset.src = `samples/${s.file}`; img.alt = s.name; img.title = `add ${s.name}`; img.loading = 'lazy';
    img.addEventListener('click', () => guarded(() => addSample(s)));
    // keyboard: Tab reaches each sample, Enter or Space adds it
    img.tabIndex = 0; img.setAttribute('role', 'button');
    img.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); guarded(() => addSample(s)); } });
    return img;
  }));
  return list;
}

/** Load the gallery's pictures, and keep the samples for offline use. */
export function showGallery() {
  const imgs = /** @type {HTMLImageElement[]} */ ([...$('gallery').querySelectorAll('img[data-src]')]);
  const files = imgs.map((img) => img.dataset.src || '');
  imgs.forEach((img, i) => { img.src = files[i]; delete img.dataset.src; });
  if (files.length) cacheForOffline(['samples/index.json', ...files]);
}

/** @param {Sample} s */
export async function addSample(s) {
  const res = await fetch(`samples/${s.file}`);
  cacheForOffline([`samples/${s.file}`]);
  if (!res.ok) throw new Error(`samples/${s.file}: HTTP ${res.status}`);
  await addImages([{ name: s.name, blob: await res.blob() }]);
}

/**
 * Add dropped, pasted or picked files (pasted ones may be nameless).
 * @param {FileList | File[] | null | undefined} list @param {string} [fallbackName]
 */
function addFiles(list, fallbackName = 'file') {
  const files = [...(list || [])];
  if (files.length) guarded(() => addImages(files.map((f, i) => ({ name: f.name || `${fallbackName}-${i + 1}.png`, blob: f }))));
}

/** Wire the file picker, the drop zone and paste. */
export function wireInputs() {
  $('file').addEventListener('change', (/** @type {Event} */ ev) => {
    const input = /** @type {HTMLInputElement} */ (ev.target);
    addFiles(input.files);
    input.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (/** @type {DragEvent} */ ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (/** @type {DragEvent} */ ev) => {
    ev.preventDefault(); drop.classList.remove('over');
    addFiles(ev.dataTransfer?.files);
  });
  document.addEventListener('paste', (ev) => addFiles(ev.clipboardData?.files, 'pasted'));
}
