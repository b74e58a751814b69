#!/usr/bin/env python3
"""Serve www/ on 127.0.0.1 only, with the headers the demo wants.

- Content-Security-Policy: the page, its worker and its wasm may only load the app's own files;
- Cross-Origin-Opener-Policy / -Embedder-Policy: cross-origin isolation, so that the page can
  share a cancel flag (SharedArrayBuffer) with the worker;
- no caching by the browser's HTTP cache (the service worker does the offline caching).

Usage: scripts/web_serve.py [--port N] [--root DIR]    (port 0: any free port)
Prints the URL on its first line of output.
"""
import argparse
import functools
import http.server
import os
import sys

CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
       "img-src 'self' blob: data:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
                      ".json": "application/json", ".safetensors": "application/octet-stream"}

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, fmt, *args):
        if os.environ.get("ADVSEG_SERVE_LOG"):
            super().log_message(fmt, *args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "www"))
    a = ap.parse_args()
    handler = functools.partial(Handler, directory=os.path.abspath(a.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
