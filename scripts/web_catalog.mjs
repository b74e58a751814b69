// The wasm API's lists (models, scalers, attack catalogue) as www/pkg/catalog.json, asked of the
// built module itself under Node, with the sizes of the big files the page downloads. The page
// fills its menus from this small file while the module downloads, and its loading bar knows the
// decoded size of each file even when the server compresses it (then Content-Length is the
// compressed size).
//
// Usage: node scripts/web_catalog.mjs [PKG_DIR]   (default www/pkg; weights from PKG_DIR/../weights)
import { readFileSync, writeFileSync, statSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = resolve(process.argv[2] || 'www/pkg');
const site = resolve(pkg, '..');
const mod = await import(pathToFileURL(join(pkg, 'advseg.js')).href);
mod.initSync({ module: readFileSync(join(pkg, 'advseg_bg.wasm')) });

/** @type {Record<string, number>} decoded sizes by path under the site's root */
const files = { 'pkg/advseg_bg.wasm': statSync(join(pkg, 'advseg_bg.wasm')).size };
const weights = join(site, 'weights');
if (existsSync(weights)) {
  for (const f of readdirSync(weights)) {
    try { files[`weights/${f}`] = statSync(join(weights, f)).size; } catch { /* a dangling link: not shipped */ }
  }
}
const catalog = { models: mod.listModels(), scalers: mod.listScalers(), attacks: mod.listAttacks(), files };
writeFileSync(join(pkg, 'catalog.json'), JSON.stringify(catalog));
console.log(`web_catalog: ${join(pkg, 'catalog.json')}: ${catalog.models.length} models, ${catalog.attacks.kinds.length} attack kinds, ${Object.keys(files).length} file sizes`);
