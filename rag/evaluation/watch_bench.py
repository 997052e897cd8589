"""`rag bench watch`: how fast `rag watch --once` takes in feeds, on loopback.

A local server serves FEEDS RSS feeds of ITEMS items each; every item links to its own page
(menus, a cookie banner, related links and a comment around a story made of XQuAD paragraphs,
so pages differ and read like articles). Three runs, each in a fresh index:
- intake only: fetch and read every feed and page, embedding excluded;
- intake and indexing: the same with chunking and embedding into the index;
- a second `--once` over the same index with nothing changed: conditional GETs answered 304,
  no item page fetched again.
The server answers ETag / If-None-Match as news sites do. Nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rag.evaluation import xquad

FEEDS = 20
ITEMS = 50


def _stories(count: int) -> list[tuple[str, str]]:
    """(title, body) for `count` pages from the XQuAD paragraphs, in their four languages."""
    paragraphs = [text for lang in xquad.LANGS
                  for text in xquad.load(xquad.DEFAULT_DIR, lang).paragraphs.values()]  # fmt: skip
    out = []
    for i in range(count):
        body = [paragraphs[(i + k * 97) % len(paragraphs)] for k in range(2)]
        title = body[0].split(".")[0][:80]
        out.append((f"{title} ({i})", "\n".join(f"<p>{p}</p>" for p in body)))
    return out


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html><head><title>" + title + "</title>"
        "<meta property='og:site_name' content='Bench Wire'>"
        "<meta property='article:published_time' content='2026-01-15'></head><body>"
        "<div class='cookie'>We use cookies. Accept all</div><nav>Home World Tech</nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<aside>Related stories: more from Bench Wire</aside>"
        "<section id='comments'><p>First!</p></section><footer>© Bench Wire</footer>"
        "</body></html>"
    ).encode()


def _feed(n: int, base: str, count: int) -> bytes:
    items = "".join(
        f"<item><title>Story {n}-{j}</title><link>{base}/page/{n}-{j}.html</link>"
        f"<pubDate>Thu, 15 Jan 2026 0{j % 10}:00:00 GMT</pubDate></item>"
        for j in range(count)
    )
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>Bench feed {n}</title>{items}</channel></rss>").encode()  # fmt: skip


@contextmanager
def serve(feeds: int = FEEDS, items: int = ITEMS) -> Iterator[tuple[str, list[str]]]:
    """The server's base URL and the paths it answered with a body (not 304)."""
    stories = _stories(feeds * items)
    routes: dict[str, tuple[str, bytes]] = {}
    answered: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = routes.get(self.path)
            if found is None:
                self.send_error(404)
                return
            kind, body = found
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            answered.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    for n in range(feeds):
        routes[f"/feed/{n}.xml"] = ("application/rss+xml", _feed(n, base, items))
        for j in range(items):
            title, body = stories[n * items + j]
            routes[f"/page/{n}-{j}.html"] = ("text/html; charset=utf-8", _page(title, body))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, answered
    finally:
        server.shutdown()
        server.server_close()


def run(feeds: int = FEEDS, progress: bool = False, items: int = ITEMS) -> dict[str, Any]:
    """Items per second with embedding excluded and included, and the second `--once`."""
    from rag.ingest import watch, web
    from rag.stores.registry import get_store

    def once(index: Path, urls: list[str], embed: bool) -> tuple[float, list[watch.PollResult]]:
        store = get_store("faiss_bm25", index, None, None, None)
        state = watch.WatchState(index / watch.STATE_FILE)
        watcher = watch.Watcher(store, state, web.Fetcher(allow_private=True), log=lambda s: None,
                                embed=embed)  # fmt: skip
        started = time.perf_counter()
        results = watcher.run(urls, True, threading.Event())
        state.close()
        return time.perf_counter() - started, results

    out: dict[str, Any] = {"feeds": feeds, "items": feeds * items}
    with serve(feeds, items) as (base, answered), tempfile.TemporaryDirectory() as tmp:
        urls = [f"{base}/feed/{n}.xml" for n in range(feeds)]
        seconds, results = once(Path(tmp) / "intake", urls, embed=False)
        out["intake_s"] = round(seconds, 1)
        out["intake_items_per_s"] = round(sum(r.items_fetched for r in results) / seconds, 1)
        if progress:
            print(f"intake only: {out['intake_s']} s", flush=True)
        answered.clear()
        seconds, results = once(Path(tmp) / "full", urls, embed=True)
        out["full_s"] = round(seconds, 1)
        out["full_items_per_s"] = round(sum(len(r.added) for r in results) / seconds, 1)
        out["first_requests"] = len(answered)
        if progress:
            print(f"intake and indexing: {out['full_s']} s", flush=True)
        answered.clear()
        seconds, results = once(Path(tmp) / "full", urls, embed=True)
        out["second_s"] = round(seconds, 2)
        out["second_requests"] = len(answered)
        out["second_not_modified"] = sum(r.not_modified for r in results)
        out["speedup"] = round(out["full_s"] / max(seconds, 1e-6), 1)
    return out
