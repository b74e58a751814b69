// The browser build's CPU backend timed outside a browser (Node runs the same wasm module): model
// load, one segmentation and a short untargeted attack on the ESPNetv2 and DeepLabV3 models, at
// their native sizes. Compare builds side by side (e.g. scalar vs SIMD128):
//
//   node scripts/web_bench.mjs [PKG_DIR] [--models a,b] [--steps N] [--json FILE]
//
// PKG_DIR is a wasm-bindgen `--target web` output (default www/pkg). Weights come from weights/,
// the image from samples/ or the shared fixtures. Prints one JSON line per model.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const argv = process.argv.slice(2);
const opt = (k, d) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const pkg = resolve(argv[0] && !argv[0].startsWith('--') ? argv[0] : 'www/pkg');
const models = opt('--models', 'espnetv2-voc-s0.5,espnetv2-voc,deeplabv3-mnv2-voc').split(',');
const steps = Number(opt('--steps', '3'));
const jsonOut = opt('--json', null);

const mod = await import(pathToFileURL(join(pkg, 'advseg.js')).href);
mod.initSync({ module: readFileSync(join(pkg, 'advseg_bg.wasm')) });
const { Session } = mod;
const shared = process.env.ADVSEG_SHARED || '../shared';
const imagePath = [join(shared, 'fixtures/images/voc/294.png'), 'samples/voc_294.png'].find(existsSync);
if (!imagePath) throw new Error('no sample image (../shared/fixtures/images/voc/294.png or samples/voc_294.png)');
const image = new Uint8Array(readFileSync(imagePath));
const catalog = mod.listModels();

const rows = [];
for (const name of models) {
  const entry = catalog.find((m) => m.name === name);
  if (!entry) throw new Error(`model ${name} is not in the wasm catalogue`);
  const weights = new Uint8Array(readFileSync(join('weights', entry.file)));
  let t = performance.now();
  const s = await Session.create(name, weights, 'cpu');
  const load = (performance.now() - t) / 1000;
  const info = s.info();
  const [w, h] = [info.native_width, info.native_height];
  t = performance.now();
  await s.segment([image], w, h, null);
  const segment = (performance.now() - t) / 1000;
  const stamps = [];
  t = performance.now();
  await s.attack([image], w, h, { kind: 'pgd', eps: '8/255', steps }, null, () => { stamps.push(performance.now()); });
  const attack = (performance.now() - t) / 1000;
  const gaps = stamps.slice(1).map((v, i) => v - stamps[i]).sort((a, b) => a - b);
  const step = gaps.length ? gaps[Math.floor(gaps.length / 2)] / 1000 : attack / steps;
  const row = { model: name, width: w, height: h, load_s: load, segment_s: segment, attack_s: attack, steps, step_s: step };
  console.log(JSON.stringify(row));
  rows.push(row);
  s.free();
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(rows, null, 1));
