// Offline cache: the app files and the wasm bundle network-first (a rebuilt page or bundle is
// picked up on reload), the weights and samples cache-first once fetched; only same-origin
// requests are handled.
const CACHE = 'advseg-v1';
// The page's own files, cached at install. Not the 38 MB wasm nor the weights: the worker puts
// them in this cache as it downloads them (fetch_progress.js), so that a first visit downloads
// them once, not twice.
const SHELL = ['./', 'index.html', 'style.css', 'main.js', 'state.js', 'status.js', 'model.js', 'inputs.js', 'controls.js',
  'run.js', 'render.js', 'paint.js', 'metrics.js', 'view.js', 'api.js', 'pool.js', 'calibrate.js', 'worker.js', 'grid.js', 'sweep.js',
  'lessons.js', 'lesson_list.js', 'camera.js', 'universal.js', 'tile.js', 'zoom.js', 'explain.js', 'headline.js', 'landing.js', 'loading.js',
  'fetch_progress.js', 'pkg/advseg.js', 'pkg/catalog.json', 'samples/index.json'];

self.addEventListener('install', (ev) => {
  // one by one: a missing file (e.g. an old build without catalog.json) leaves the others cached
  ev.waitUntil(caches.open(CACHE).then((c) => Promise.all(SHELL.map((u) => c.add(u).catch(() => {})))));
});
self.addEventListener('activate', (ev) => { ev.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (ev) => {
  const url = new URL(ev.request.url);
  if (url.origin !== self.location.origin || ev.request.method !== 'GET') return;
  const immutable = url.pathname.includes('/weights/') || url.pathname.includes('/samples/');
  ev.respondWith((async () => {
    const cache = await caches.open(CACHE);
    if (immutable) {
      const hit = await cache.match(ev.request);
      if (hit) return hit;
    }
    try {
      const res = await fetch(ev.request);
      if (res.ok) cache.put(ev.request, res.clone());
      return res;
    } catch (err) {
      const hit = await cache.match(ev.request, { ignoreSearch: true });
      if (hit) return hit;
      throw err;
    }
  })());
});
