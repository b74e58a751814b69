// A first visit as a new user makes it: the page opened with no settings, the landing's "Run the
// demo attack" pressed; on a desktop window the four views (original, adversarial, clean map,
// adversarial map) and the headline numbers must then be inside the first viewport, unscrolled,
// with the map visibly changed; on a phone the result comes right after the form (Run, then the
// views) and is scrolled into view. An image uploaded next works the same way. Screenshots of
// each moment go to tests/e2e/artifacts/<name>-*.png; the times are printed.
import assert from 'node:assert/strict';
import { helpers, report, watch } from './lib.mjs';

const MAIN_VIEWS = ['original', 'adversarial', 'clean', 'adversarial-map'];

/**
 * Where the four views and the headline numbers are (CSS px) and whether they are drawn.
 * @param {import('playwright-core').Page} page
 */
function layout(page) {
  return page.evaluate((views) => {
    const box = (/** @type {Element | null} */ e) => { const r = e ? e.getBoundingClientRect() : null; return r ? { x: r.left, y: r.top, w: r.width, h: r.height } : null; };
    return {
      scrollY: window.scrollY,
      overflowX: document.documentElement.scrollWidth - window.innerWidth,
      views: views.map((v) => {
        const f = document.querySelector(`figure[data-view="${v}"]`);
        return { v, drawn: !!f && !f.classList.contains('empty'), box: box(f && f.querySelector('canvas')) };
      }),
      headline: box(document.getElementById('headline-figures')),
      figures: [...document.querySelectorAll('#headline-figures .figure strong')].map((e) => e.textContent),
      title: document.getElementById('headline-title')?.textContent,
      notes: [...document.querySelectorAll('#headline-notes li')].map((e) => /** @type {HTMLElement} */ (e).dataset.note),
    };
  }, MAIN_VIEWS);
}

/** The share of the shown image's pixels whose class the attack changed (from the page's result). @param {import('playwright-core').Page} page */
function changedShare(page) {
  return page.evaluate(async () => {
    const { state, selectedIndex } = await import('./state.js');
    const r = /** @type {any} */ (state.result);
    const i = selectedIndex();
    const a = r.adversarial_maps[i], c = r.clean_maps[i];
    let n = 0;
    for (let k = 0; k < a.length; k++) if (a[k] !== c[k]) n++;
    return { name: r.report.images[i].name, changed: n / a.length };
  });
}

/**
 * The result in view: on a desktop window the four views and the headline inside the first,
 * unscrolled viewport; on a phone the headline in view (the views follow below it).
 * @param {Awaited<ReturnType<typeof layout>>} l @param {{width: number, height: number}} vp
 */
function checkInView(l, vp) {
  const inside = (/** @type {{x: number, y: number, w: number, h: number} | null} */ b) => !!b && b.x >= 0 && b.y >= 0 && b.x + b.w <= vp.width + 0.5 && b.y + b.h <= vp.height + 0.5;
  assert.ok(l.overflowX <= 0, `nothing wider than the window: ${l.overflowX} px`);
  assert.ok(l.views.every((v) => v.drawn), `the four views are drawn: ${JSON.stringify(l.views)}`);
  assert.ok(l.figures.length >= 2, `headline numbers: ${JSON.stringify(l.figures)}`);
  if (vp.width >= 1000) {
    assert.equal(l.scrollY, 0, 'the first viewport, unscrolled');
    for (const v of l.views) assert.ok(inside(v.box), `${v.v} is inside ${vp.width}×${vp.height}: ${JSON.stringify(v.box)}`);
    assert.ok(inside(l.headline), `the headline numbers are inside the viewport: ${JSON.stringify(l.headline)}`);
  } else {
    assert.ok(inside(l.headline), `the result is scrolled into view: ${JSON.stringify(l.headline)}`);
    assert.ok(l.views.every((v) => v.box && l.headline && v.box.y > l.headline.y), 'the views follow the numbers');
  }
}

/**
 * @param {import('playwright-core').Browser} browser @param {string} url
 * @param {{width: number, height: number}} vp @param {string | null} upload an image file not in the gallery's first place
 *   (null: the demo only)
 * @param {string} name screenshot prefix
 */
export async function firstVisit(browser, url, vp, upload, name) {
  const context = await browser.newContext({ viewport: vp, deviceScaleFactor: 1 });
  watch(context, new URL(url).origin, name);
  const page = await context.newPage();
  const h = helpers(page, `${name}-`);
  const early = vp.width >= 1000;
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  // the landing: what this is, and the two ways in
  assert.match(await page.textContent('.pitch') || '', /segmentation network/);
  assert.ok(await page.isVisible('#demo-run') && await page.isVisible('#tour-start'), 'the landing\'s buttons');
  await page.waitForFunction(() => document.body.dataset.downloaded, null, { timeout: 120000 });
  await h.shot('01-loading', false);
  if (!early) {
    await h.loaded();
    await h.idle();
    await h.shot('02-ready', false);
  }
  // on the desktop the demo is asked for at once, while the page still loads: it waits for it
  const t1 = Date.now();
  await h.runBy(() => page.click('#demo-run'));
  const demo = (Date.now() - t1) / 1000;
  const ready = Number(await page.evaluate(() => document.body.dataset.firstSegmentationMs)) / 1000;
  assert.match(await page.textContent('#device-line') || '', /runs on/);
  await page.waitForTimeout(400); // a smooth scroll on a phone
  const l1 = await layout(page);
  checkInView(l1, vp);
  const c1 = await changedShare(page);
  assert.ok(c1.changed > 0.2, `the demo changes the map visibly: ${JSON.stringify(c1)}`);
  await h.shot('03-demo', false);
  if (!upload) {
    report(`${name}`, { page_ready_s: ready, demo_s: demo, demo_from_navigation_s: (t1 - t0) / 1000 + demo, demo_clicked_while_loading: early, changed: c1.changed, figures: l1.figures, notes: l1.notes });
    await h.shot('05-full');
    await context.close();
    return { ready, demo, second: NaN };
  }

  // an image of one's own, uploaded next: it is shown, and the demo attacks it the same way
  const seg = await page.evaluate(() => Number(document.body.dataset.segmentations));
  await page.setInputFiles('#file', upload);
  await page.waitForFunction((n) => Number(document.body.dataset.segmentations) > n, seg, { timeout: 600000 });
  await h.idle();
  const t2 = Date.now();
  await h.runBy(() => page.click('#demo-run'));
  const second = (Date.now() - t2) / 1000;
  await page.waitForTimeout(400);
  if (vp.width >= 1000) await page.evaluate(() => window.scrollTo(0, 0));
  const l2 = await layout(page);
  checkInView(l2, vp);
  const c2 = await changedShare(page);
  const base = upload.split('/').pop() || '';
  assert.ok(c2.name.endsWith(base) && (l2.title || '').includes(base), `the uploaded image is the one shown: ${c2.name}, ${l2.title}`);
  assert.ok(c2.changed > 0.2, `the upload's map changes visibly: ${JSON.stringify(c2)}`);
  await h.shot('04-upload', false);
  await h.shot('05-full');
  // the targeted goals come with settings that work on the samples: the painted map with PGD
  await page.click('button[data-mode="targeted"]');
  await page.check('input[name=tkind][value=map]');
  assert.equal(await page.inputValue('#kind'), 'pgd', 'the painted goal defaults to PGD (a fixed step)');
  await page.click('button[data-mode="untargeted"]');
  report(`${name}`, { page_ready_s: ready, demo_s: demo, demo_from_navigation_s: (t1 - t0) / 1000 + demo, demo_clicked_while_loading: early, upload_demo_s: second, changed: [c1.changed, c2.changed], figures: l2.figures, notes: [l1.notes, l2.notes] });
  await context.close();
  return { ready, demo, second };
}
