// The brush: painting a target map in class colours over the clean map.
import { state, $ } from './state.js';
import { painting } from './controls.js';
import * as view from './view.js';

const paintCanvas = /** @type {HTMLCanvasElement} */ (document.querySelector('figure[data-view="clean"] canvas.paint'));

/** Show the paint layer and tools when the form asks for a painted map, and draw the map. */
export function updatePaint() {
  const on = painting() && !!state.size && state.resultKind !== 'scaling';
  paintCanvas.hidden = !on;
  $('paint-tools').hidden = !on;
  if (!on || !state.size || !state.painted || !state.info) return;
  const [w, h] = state.size;
  view.draw(paintCanvas, view.mapImage(state.painted, w, h, state.info.palette, 0));
}

/** The brush's class (e.g. from the legend); the targeted class follows in targeted mode. @param {number} c */
export function pickClass(c) {
  state.paintClass = c;
  $('paint-class').value = String(c);
  if (state.mode === 'targeted') $('target-class').value = String(c);
}

/** @type {{x: number, y: number} | null} the last brush position of the stroke */
let last = null;

/**
 * Paint a disc of the brush's class at (x, y) into the painted map.
 * @param {number} x @param {number} y
 */
function dab(x, y) {
  if (!state.size || !state.painted) return;
  const [w, h] = state.size;
  const r = Number($('brush').value) / 2;
  for (let yy = Math.max(0, Math.floor(y - r)); yy <= Math.min(h - 1, y + r); yy++) {
    for (let xx = Math.max(0, Math.floor(x - r)); xx <= Math.min(w - 1, x + r); xx++) {
      if ((xx - x) ** 2 + (yy - y) ** 2 <= r * r) state.painted[yy * w + xx] = state.paintClass;
    }
  }
}

/** A stroke segment from the last position to the pointer (discs every half radius). @param {PointerEvent} ev */
function paintAt(ev) {
  const p = view.pixelAt(paintCanvas, ev);
  const from = last || p;
  const n = Math.max(1, Math.ceil(Math.hypot(p.x - from.x, p.y - from.y) / Math.max(1, Number($('brush').value) / 4)));
  for (let k = 1; k <= n; k++) dab(from.x + (p.x - from.x) * k / n, from.y + (p.y - from.y) * k / n);
  last = p;
  updatePaint();
}

/** Wire the brush strokes and the paint tools. */
export function wirePaint() {
  paintCanvas.addEventListener('pointerdown', (ev) => { last = null; paintCanvas.setPointerCapture(ev.pointerId); paintAt(ev); });
  paintCanvas.addEventListener('pointermove', (ev) => { if (last) paintAt(ev); });
  paintCanvas.addEventListener('pointerup', () => { last = null; });
  $('paint-class').addEventListener('change', () => { state.paintClass = Number($('paint-class').value); });
  $('paint-erase').addEventListener('click', () => { state.paintClass = 255; });
  $('paint-clear').addEventListener('click', () => { if (state.painted) state.painted.fill(255); updatePaint(); });
  $('paint-fill').addEventListener('click', () => { if (state.painted) state.painted.fill(state.paintClass); updatePaint(); });
}
