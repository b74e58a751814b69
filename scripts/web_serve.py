#!/usr/bin/env python3
"""Serve www/ (or dist/) on 127.0.0.1 only, with the headers the demo wants.

- Content-Security-Policy: the page, its worker and its wasm may only load the app's own files;
- Cross-Origin-Opener-Policy / -Embedder-Policy: cross-origin isolation, so that the page can
  share a cancel flag (SharedArrayBuffer) with the worker;
- compression: a client that accepts it gets `FILE.br` or `FILE.gz` where such a sibling is
  at least as new as FILE (scripts/build_site.sh writes them for dist/), else — for text, wasm
  and weights — FILE gzipped on the fly (kept in memory for the next request), with
  `Content-Encoding`, the original `Content-Type` and `Vary: Accept-Encoding`;
- no caching by the browser's HTTP cache beyond revalidation (the service worker does the
  offline caching).

Usage: scripts/web_serve.py [--port N] [--root DIR]    (port 0: any free port)
Prints the URL on its first line of output.
"""
import argparse
import email.utils
import functools
import gzip
import http.server
import io
import os
import sys
import threading

CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
       "img-src 'self' blob: data:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")

# what is worth compressing (PNG and JPEG samples are compressed already)
COMPRESSIBLE = (".wasm", ".js", ".mjs", ".css", ".html", ".json", ".safetensors", ".tflite", ".md", ".txt", ".svg")
# on-the-fly gzip level: 6 takes ~1.5 s on the 38 MB ci-profile wasm and gets within ~3 % of 9
LEVEL = 6


class GzipCache:
    """Gzipped bodies by (path, mtime, size): compressed once per file version."""

    def __init__(self):
        self.lock = threading.Lock()
        self.locks = {}
        self.entries = {}

    def get(self, path, st):
        key = (path, st.st_mtime_ns, st.st_size)
        with self.lock:
            mine = self.locks.setdefault(path, threading.Lock())
        # one lock per file: a request for a file being compressed waits for that work instead
        # of repeating it, and other files are served meanwhile
        with mine:
            body = self.entries.get(key)
            if body is None:
                with open(path, "rb") as f:
                    body = gzip.compress(f.read(), compresslevel=LEVEL, mtime=0)
                with self.lock:
                    self.entries = {k: v for k, v in self.entries.items() if k[0] != path}
                    self.entries[key] = body
        return body


CACHE = GzipCache()


def accepted(header):
    """The codings an Accept-Encoding header allows (q=0 excluded)."""
    out = set()
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and float(q[2:] or 0) == 0:
            continue
        if name:
            out.add(name.strip().lower())
    return out


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
                      ".json": "application/json", ".safetensors": "application/octet-stream",
                      ".tflite": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def encoded(self, path):
        """(coding, body file, length) for `path` as the client accepts it, or None."""
        codings = accepted(self.headers.get("Accept-Encoding"))
        st = os.stat(path)
        for coding, ext in (("br", ".br"), ("gzip", ".gz")):
            sib = path + ext
            if coding in codings and os.path.isfile(sib) and os.stat(sib).st_mtime >= st.st_mtime:
                return coding, open(sib, "rb"), os.path.getsize(sib)
        if "gzip" in codings and path.endswith(COMPRESSIBLE) and st.st_size > 1024:
            body = CACHE.get(path, st)
            return "gzip", io.BytesIO(body), len(body)
        return None

    def send_head(self):
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()
        enc = self.encoded(path)
        if enc is None:
            return super().send_head()
        coding, body, length = enc
        st = os.stat(path)
        since = self.headers.get("If-Modified-Since")
        if since and "If-None-Match" not in self.headers:
            try:
                if int(st.st_mtime) <= email.utils.parsedate_to_datetime(since).timestamp():
                    body.close()
                    self.send_response(http.HTTPStatus.NOT_MODIFIED)
                    self.send_header("Vary", "Accept-Encoding")
                    self.end_headers()
                    return None
            except (TypeError, ValueError, OverflowError):
                pass
        self.send_response(http.HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(length))
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Last-Modified", self.date_time_string(int(st.st_mtime)))
        self.end_headers()
        return body

    def log_message(self, fmt, *args):
        if os.environ.get("ADVSEG_SERVE_LOG"):
            super().log_message(fmt, *args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "www"))
    a = ap.parse_args()
    root = os.path.abspath(a.root)
    handler = functools.partial(Handler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    # gzip the wasm module now rather than on the first visit's request (none without a .gz beside it)
    wasm = os.path.join(root, "pkg", "advseg_bg.wasm")
    if os.path.isfile(wasm) and not os.path.isfile(wasm + ".gz"):
        threading.Thread(target=CACHE.get, args=(wasm, os.stat(wasm)), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
