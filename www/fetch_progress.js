// Downloads that report their bytes as they arrive (used by worker.js for the wasm module and the
// weights). A compressed transfer (Content-Encoding: gzip or br) gives no length of the decoded
// body, so the expected sizes come from pkg/catalog.json (written at build time beside the
// module), else from Content-Length where the body is not compressed.

/** @typedef {{file: string, loaded: number, total: number}} Bytes */

/** The offline cache (sw.js serves from it): big files go in as they download, not fetched twice. */
export const OFFLINE_CACHE = 'advseg-v1';

/** @type {Promise<Record<string, number>>} decoded sizes of the big files, by path under www/ */
let sizes = Promise.resolve({});

/** Read the sizes of the build's catalogue (no catalogue: none known). @param {URL} url */
export function loadSizes(url) {
  sizes = fetch(url).then((r) => (r.ok ? r.json() : {})).then((c) => c.files || {}).catch(() => ({}));
  return sizes;
}

/**
 * `fetch(url)` whose body reports its bytes to `onBytes` as it streams; resolves to a Response
 * with the same body (so that WebAssembly can compile while it downloads).
 * @param {URL} url @param {string} file the path the sizes are keyed by @param {(b: Bytes) => void} onBytes
 * @param {string} [type] the Content-Type of the returned Response
 * @returns {Promise<Response>}
 */
export async function fetchCounted(url, file, onBytes, type) {
  const res = await fetch(url);
  if (!res.ok || !res.body) return res;
  const known = (await sizes)[file];
  const plain = !res.headers.get('content-encoding');
  const total = known || (plain ? Number(res.headers.get('content-length')) || 0 : 0);
  let loaded = 0, last = 0;
  onBytes({ file, loaded, total });
  const counted = res.body.pipeThrough(new TransformStream({
    transform(chunk, ctl) {
      loaded += chunk.byteLength;
      // about every 256 kB, and at the end
      if (loaded - last >= 262144) { last = loaded; onBytes({ file, loaded, total }); }
      ctl.enqueue(chunk);
    },
    flush() { onBytes({ file, loaded, total: total || loaded }); },
  }));
  // the body is decoded already: only its type travels on
  const headers = new Headers({ 'Content-Type': type || res.headers.get('content-type') || 'application/octet-stream' });
  // a copy for the offline cache as the bytes arrive (a browser does not keep a file this large
  // in its HTTP cache: fetching it again for the offline cache would download it twice)
  let body = counted;
  if ('caches' in globalThis) {
    const [mine, kept] = counted.tee();
    body = mine;
    caches.open(OFFLINE_CACHE).then((c) => c.put(url, new Response(kept, { headers }))).catch(() => {});
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}
