// What each lesson's "try it" must show (teach.test.mjs): the effect the lesson's text promises,
// and the numbers in its result box taken from its own run — recomputed here from the page's
// result (the report, the sweep, the clean map), never read from the lesson's own summary.
import assert from 'node:assert/strict';

/**
 * The expected numbers of lesson `i`, from the page's state, as strings that its text must hold,
 * and whether the promised effect happened.
 * @param {import('playwright-core').Page} page @param {number} i
 * @returns {Promise<{expect: string[], effect: boolean, values: any}>}
 */
function expected(page, i) {
  return page.evaluate(async (i) => {
    const { state } = await import('./state.js');
    const f2 = (/** @type {number} */ x) => x.toFixed(2);
    const r = /** @type {any} */ (state.result);
    if (i === 0) {
      const c = /** @type {any} */ (state.clean), names = /** @type {any} */ (state.info).classes;
      const counts = new Map();
      for (const k of c.maps[0]) counts.set(k, (counts.get(k) || 0) + 1);
      const top = [...counts.entries()].filter(([, n]) => n / c.maps[0].length >= 0.05).map(([k]) => names[k]);
      return { expect: top, effect: top.length > 0, values: top };
    }
    if (i === 1) {
      const changed = 1 - r.report.images[0].quantized.vs_clean.pixel_accuracy;
      return { expect: [`${(100 * changed).toFixed(1)} %`], effect: changed > 0.05, values: { changed } };
    }
    if (i === 2 || i === 3) {
      const rep = r.report, t = rep.spec.goal === 'targeted-image' ? rep.spec.target_index - 1 : -1;
      const rows = rep.images.map((/** @type {any} */ im, /** @type {number} */ k) => ({ k, clean: im.clean.vs_target.agreement, adv: im.quantized.vs_target.agreement })).filter((/** @type {any} */ x) => x.k !== t);
      return { expect: rows.map((/** @type {any} */ x) => `${f2(x.clean)} → ${f2(x.adv)}`), effect: rows.every((/** @type {any} */ x) => x.adv > x.clean), values: rows };
    }
    if (i === 4) {
      const s = /** @type {any} */ ((await import('./sweep.js')).lastSweep());
      const pts = s.points.map((/** @type {any} */ p) => [p.undefended.miou, p.defended.miou, p.adaptive.miou]);
      return { expect: pts.map((/** @type {number[]} */ p) => p.map(f2).join(' / ')), effect: pts.every((/** @type {number[]} */ p) => p[2] <= p[1]), values: pts };
    }
    const rep = r.report;
    const target = rep.down_map_vs_target.agreement, before = rep.clean_down_map_vs_target.agreement;
    return { expect: [f2(target), f2(before)], effect: target > before, values: { target, before } };
  }, i);
}

/**
 * Check lesson `i` after its try-it ran: its promised effect happened, the numbers it shows are
 * its run's, and its text, "try it" and "next" are in view beside the result.
 * @param {import('playwright-core').Page} page @param {number} i
 */
export async function checkLesson(page, i) {
  const outcome = JSON.parse(await page.evaluate(() => document.body.dataset.lessonOutcome || 'null'));
  assert.equal(outcome && outcome.lesson, i, `lesson ${i + 1} reported its outcome`);
  const shown = await page.textContent('#lesson-result') || '';
  assert.ok(await page.isVisible('#lesson-result'), `lesson ${i + 1}: what the run showed is in the panel`);
  const want = await expected(page, i);
  for (const e of want.expect) assert.ok(shown.includes(e), `lesson ${i + 1}: the panel shows the run's ${e}: ${shown}`);
  assert.ok(want.effect, `lesson ${i + 1}: the effect its text promises: ${JSON.stringify(want.values)}`);
  assert.equal(outcome.effect, true, `lesson ${i + 1}: the page agrees the effect happened`);
  assert.ok(!/did not show the effect/.test(shown), shown);
  // the text and the buttons stay beside the result
  const vp = page.viewportSize() || { width: 0, height: 0 };
  for (const sel of ['#lesson-title', '#lesson-try', '#lesson-next']) {
    const b = await page.locator(sel).boundingBox();
    assert.ok(b && b.y >= 0 && b.y + b.height <= vp.height && b.x + b.width <= vp.width, `lesson ${i + 1}: ${sel} in view: ${JSON.stringify(b)}`);
  }
  return { effect: want.values, shown: shown.slice(0, 300) };
}
