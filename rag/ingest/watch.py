"""Following sources: `rag watch SOURCES_FILE` polls feeds and pages and keeps the index current.

Each source is fetched with a conditional GET (its last ETag and Last-Modified), so an
unchanged feed costs one small request; a feed's items already read (same link, same date) are
not fetched again. New articles are added, changed ones replace their old version (updated in
place), syndicated copies are kept once. Per-source state lives in SQLite beside the index
(`watch.sqlite`): when it was last seen, its errors, when it is next due; a source that fails
waits longer each time (backoff, up to a day). One log line per new, updated or failed item.
SIGINT or SIGTERM stops after the source being polled; the page and the Slack bot pick up the
new index versions as they always do.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.ingest import corpus, web
from rag.stores.base import Store

STATE_FILE = "watch.sqlite"
MAX_BACKOFF_S = 86_400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, last_seen REAL, last_status TEXT,
    errors INTEGER NOT NULL DEFAULT 0, last_error TEXT, next_poll REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    link TEXT PRIMARY KEY, stamp TEXT NOT NULL, source TEXT NOT NULL, first_seen REAL NOT NULL
);
"""


def read_sources(path: Path) -> list[str]:
    """One URL a line; blank lines and `#` comments are ignored."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read the sources file {path}: {err.strerror or err}") from err
    urls = [line.split("#", 1)[0].strip() for line in lines]
    urls = [u for u in urls if u]
    bad = [u for u in urls if not web.is_url(u)]
    if bad:
        raise InputError(f"{path}: not a URL: {bad[0]!r} (one http or https URL a line)")
    if not urls:
        raise InputError(f"{path}: no sources in it (one feed or page URL a line)")
    return list(dict.fromkeys(urls))


@dataclass
class SourceState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_seen: float | None = None
    last_status: str | None = None
    errors: int = 0
    last_error: str | None = None
    next_poll: float = 0.0


class WatchState:
    """Per-source and per-item state in SQLite beside the index."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def source(self, url: str) -> SourceState:
        row = self._db.execute(
            "SELECT etag, last_modified, last_seen, last_status, errors, last_error, next_poll "
            "FROM sources WHERE url = ?", (url,),
        ).fetchone()  # fmt: skip
        return SourceState(url, *row) if row else SourceState(url)

    def sources(self) -> list[SourceState]:
        rows = self._db.execute("SELECT url FROM sources ORDER BY url").fetchall()
        return [self.source(url) for (url,) in rows]

    def save(self, state: SourceState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (state.url, state.etag, state.last_modified, state.last_seen, state.last_status,
             state.errors, state.last_error, state.next_poll),
        )  # fmt: skip
        self._db.commit()

    def seen(self, link: str, stamp: str) -> bool:
        row = self._db.execute("SELECT stamp FROM items WHERE link = ?", (link,)).fetchone()
        return row is not None and row[0] == stamp

    def remember(self, source: str, stamps: dict[str, str]) -> None:
        now = time.time()
        self._db.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?) ON CONFLICT(link) DO UPDATE SET stamp = "
            "excluded.stamp", [(link, stamp, source, now) for link, stamp in stamps.items()],
        )  # fmt: skip
        self._db.commit()


@dataclass
class PollResult:
    """What one poll of one source did."""

    url: str
    not_modified: bool = False
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)
    items_fetched: int = 0
    items_passed_over: int = 0
    fetch_seconds: float = 0.0
    index_seconds: float = 0.0


@dataclass
class Watcher:
    """Polls sources into `store`. `log` gets one line per new, updated or failed item."""

    store: Store
    state: WatchState
    fetcher: web.Fetcher
    interval_s: float = 900.0
    log: Callable[[str], None] = print
    embed: bool = True  # False: fetch and read only (to time the intake without embedding)
    # MinHash signatures of the indexed texts, kept across polls (see corpus.Deduplicator)
    signatures: dict[str, Any] = field(default_factory=dict, repr=False)

    def poll(self, url: str) -> PollResult:
        result = PollResult(url)
        source = self.state.source(url)
        started = time.perf_counter()
        try:
            fetched = self.fetcher.get(url, source.etag, source.last_modified)
            items = web.FeedItems(seen=self.state.seen)
            articles = (
                []
                if fetched.not_modified
                else list(web.articles_from(fetched, self.fetcher, items))
            )
        except InputError as err:
            self._failed(source, str(err), result)
            return result
        result.fetch_seconds = time.perf_counter() - started
        result.not_modified = fetched.not_modified
        result.items_passed_over = items.passed_over
        result.items_fetched = len(articles)
        for reason in items.failed:
            result.failed.append(reason)
            self.log(f"rag: watch: failed {reason}")
        if articles:
            self._index(articles, result)
        self.state.remember(url, items.stamps)
        source.etag, source.last_modified = (
            fetched.etag or source.etag,
            (fetched.last_modified or source.last_modified),
        )
        source.last_seen, source.errors, source.last_error = time.time(), 0, None
        source.last_status = "not modified" if fetched.not_modified else "ok"
        source.next_poll = time.time() + self.interval_s
        self.state.save(source)
        return result

    def _index(self, articles: list[corpus.Article], result: PollResult) -> None:
        known = [self.store.article(d) for d in self.store.doc_ids()]
        seen = corpus.Deduplicator(known, self.signatures)
        fresh = []
        for article in articles:
            refusal = seen.refusal(article)
            if refusal is None:
                fresh.append(article)
            else:
                result.copies.append(refusal)
        corpus.mark_updates(fresh, known)
        if not self.embed or not (fresh or seen.noted):
            return
        started = time.perf_counter()
        report = self.store.upsert([*fresh, *seen.noted])
        result.index_seconds = time.perf_counter() - started
        result.added, result.updated = list(report.added), list(report.updated)
        urls = {a.doc_id: a.url or a.source for a in fresh}
        for doc_id in report.added:
            self.log(f"rag: watch: new {urls[doc_id]} ({doc_id})")
        for doc_id in report.updated:
            self.log(f"rag: watch: updated {urls[doc_id]} ({doc_id})")

    def _failed(self, source: SourceState, reason: str, result: PollResult) -> None:
        source.errors += 1
        source.last_error, source.last_status = reason, "failed"
        wait = min(MAX_BACKOFF_S, self.interval_s * 2 ** min(source.errors, 10))
        source.next_poll = time.time() + wait
        self.state.save(source)
        result.failed.append(reason)
        self.log(f"rag: watch: failed {reason} (next try in {wait:.0f} s)")

    def run(self, urls: list[str], once: bool, stop: threading.Event) -> list[PollResult]:
        """Poll every due source; with `once`, each source one time; else until `stop`."""
        results: list[PollResult] = []
        while not stop.is_set():
            now = time.time()
            for url in urls:
                if stop.is_set():
                    break
                if once or self.state.source(url).next_poll <= now:
                    results.append(self.poll(url))
            if once:
                break
            due = min(self.state.source(u).next_poll for u in urls)
            stop.wait(max(1.0, min(self.interval_s, due - time.time())))
        return results


@contextmanager
def stopping_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM: the watcher finishes the source it is polling and
    stops, leaving the index and its state consistent."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
