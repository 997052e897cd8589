"""The article library behind the chat page's "Articles" tab: list what the index holds, add
uploaded files, remove an article, and let a long-running page pick up the new index version.

No UI here: the page calls these and renders the results.

Readers never see a half-written index. The on-disk store writes a complete new version beside
the live one and then swaps its `CURRENT` pointer, while a `RAG` keeps answering from the
version it loaded. A page holds a `LiveRAG`, takes `live.rag` once per question, and calls
`live.reload_if_changed()` after a write (or before each question: it reads one small file):
a fresh `RAG` is opened on the new version, reusing the loaded embedder and answerer, and only
then swapped in, so questions already running finish on the old one.

Writes to one index are serialised within this process (two uploads at once would otherwise
both start from the same version and the second would drop the first's articles); a
`rag ingest` run from another process at the same moment is not guarded against.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.config import InputLimits, Settings
from rag.errors import InputError, RagError
from rag.ingest.corpus import Article, Deduplicator, Loaded, load_file
from rag.present import UNTRUSTED_SOURCE
from rag.service import RAG
from rag.stores.base import IngestReport, Store
from rag.stores.registry import get_store, live_version, open_store, store_exists

Progress = Callable[[float, str], None]

# Python's tempfile names (`tmpk3j_x9a2.md`): no name a reader chose, so no id to keep.
_TEMP_STEM = re.compile(r"^tmp[a-z0-9_]{8}$")
# What a doc id taken from an uploaded file's name may hold: ids are joined into chunk and
# sentence ids with `#` and `.`, and shown in URLs and messages.
_UNSAFE = re.compile(r"[^\w.-]+")

_write_locks: dict[Path, threading.Lock] = {}
_write_locks_guard = threading.Lock()


@contextmanager
def _writing(index_dir: Path) -> Iterator[None]:
    with _write_locks_guard:
        lock = _write_locks.setdefault(index_dir.resolve(), threading.Lock())
    with lock:
        yield


def _settings(target: Settings | Path) -> Settings:
    """Settings as given, or the defaults (store kind, tuning) with this index folder."""
    if isinstance(target, Settings):
        return target
    return replace(Settings(), index_dir=Path(target))


# ---------------------------------------------------------------- listing


def list_articles(store: Store) -> list[dict[str, Any]]:
    """One row per article, by doc id: doc_id, title, outlet, date, lang, url, chunks, and
    whether it is untrusted (rag.ingest.planted)."""
    chunks = Counter(chunk.doc_id for chunk in store.chunks())
    rows = []
    for doc_id in sorted(store.doc_ids()):
        article = store.article(doc_id)
        rows.append(
            {
                "doc_id": doc_id,
                "title": article.title,
                "outlet": article.outlet,
                "date": article.date,
                "lang": article.lang,
                "url": article.url,
                "chunks": chunks[doc_id],
                "trust": UNTRUSTED_SOURCE if article.untrusted else "",
            }
        )
    return rows


# ---------------------------------------------------------------- adding


@dataclass
class AddReport:
    """What `add_files` did: articles added, updated (same id, new content) and unchanged
    (nothing to do), and each file refused with its one-line reason."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # (file name, reason): each file refused, and each JSON line or duplicate left out of one
    rejected: list[tuple[str, str]] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # file name -> how it was read
    total_documents: int | None = None  # None: the index was not written
    total_chunks: int | None = None

    @property
    def changed(self) -> bool:
        """Whether a new index version was written (readers should reload)."""
        return bool(self.added or self.updated)


def add_files(
    target: Settings | Path,
    paths: Sequence[Path],
    progress: Progress | None = None,
    names: Mapping[Path, str] | None = None,
) -> AddReport:
    """Add or update the articles in `paths` in the index (`target`: settings, or the index
    folder with default settings); a new index is started if there is none.

    Each file is loaded on its own, so a bad one (binary, empty, too large, unsupported type,
    broken JSON) is reported in `rejected` and the others still go in; so is each broken JSON
    line of a file whose other lines go in, and each article whose text the batch already has
    or whose doc id another file of the batch took. More than `limits.max_upload_files` files
    is refused as a whole. `progress(fraction, message)` hears of each step.

    Doc ids come from the file as `rag ingest` takes them: an `id` in the file (front matter,
    JSON field) wins, else the file name's stem. Uploads live under temporary names, so pass
    `names` (path → the name the reader's file had) to keep ids stable: uploading an edited
    `chips.md` again then updates the article rather than adding a second one. A name is cut
    to its last component and anything but letters, digits, `_`, `.` and `-` becomes `_`. A
    file under a Python tempfile name (`tmpk3j_x9a2.md`) with no name given gets an id from
    its content (`upload-<sha256 prefix>`), so the same upload always gets the same id.
    """
    say = progress or (lambda fraction, message: None)
    settings = _settings(target)
    if len(paths) > settings.limits.max_upload_files:
        raise InputError(
            f"{len(paths)} files at once; add at most {settings.limits.max_upload_files} at a "
            "time (nothing was added)"
        )
    report = AddReport()
    accepted: list[Article] = []
    seen = Deduplicator(indexed_articles(settings))
    for n, path in enumerate(paths):
        path = Path(path)
        name = _upload_name(path, (names or {}).get(path))
        say(0.5 * n / max(1, len(paths)), f"reading {name}")
        try:
            loaded = _load(path, name, settings.limits)
        except RagError as err:
            report.rejected.append((name, str(err)))
            continue
        report.rejected += [(name, reason) for reason in loaded.skipped]
        report.encodings.update(loaded.encodings)
        for article in loaded.articles:
            refusal = seen.refusal(article)
            if refusal is None:
                accepted.append(article)
            else:
                report.rejected.append((name, refusal))
    if not accepted and not seen.noted:
        say(1.0, "nothing to add")
        return report
    say(0.5, f"embedding {len(accepted)} article(s)")
    with _writing(settings.index_dir):
        store = get_store(settings.store_kind, settings.index_dir, tuning=settings.store)
        result = store.upsert([*accepted, *seen.noted], progress=False)
    report.added, report.updated, report.unchanged = result.added, result.updated, result.unchanged
    report.total_documents, report.total_chunks = result.total_documents, result.total_chunks
    say(1.0, f"{len(report.added)} added, {len(report.updated)} updated")
    return report


def add_url(target: Settings | Path, url: str, progress: Progress | None = None) -> AddReport:
    """Fetch a page or a feed (or a PDF, a Word file) into the index and follow it: the URL
    joins the watched sources (`watch.sqlite`, which `rag watch` polls too), with its status.
    A fetch that fails is a rejection with its one-line reason, and is listed as failed."""
    from rag.ingest import watch, web

    say = progress or (lambda fraction, message: None)
    settings = _settings(target)
    if not web.is_url(url.strip()):
        raise InputError("give a web address starting with http:// or https://")
    report = AddReport()
    say(0.1, f"fetching {url}")
    with _writing(settings.index_dir):
        store = get_store(settings.store_kind, settings.index_dir, tuning=settings.store)
        state = watch.WatchState(settings.index_dir / watch.STATE_FILE)
        try:
            fetcher = web.Fetcher(allow_private=settings.allow_private_urls)
            result = watch.Watcher(store, state, fetcher, log=lambda line: None).poll(url.strip())
        finally:
            state.close()
    report.added, report.updated = result.added, result.updated
    report.rejected = [(url, reason) for reason in (*result.failed, *result.copies)]
    report.total_documents = len(store.doc_ids())
    say(1.0, f"{len(report.added)} added, {len(report.updated)} updated")
    return report


def watched_sources(target: Settings | Path) -> list[dict[str, Any]]:
    """The followed sources with their status: last seen, errors, next poll (UTC)."""
    from datetime import UTC, datetime

    from rag.ingest import watch

    settings = _settings(target)
    path = settings.index_dir / watch.STATE_FILE
    if not path.exists():
        return []

    def when(t: float | None) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") if t else ""

    state = watch.WatchState(path)
    try:
        return [{"url": s.url, "status": s.last_status or "", "last seen": when(s.last_seen),
                 "errors": s.errors, "next poll": when(s.next_poll),
                 "last error": s.last_error or ""} for s in state.sources()]  # fmt: skip
    finally:
        state.close()


def indexed_articles(settings: Settings) -> list[Article]:
    """The articles the index holds now (none if there is no index yet)."""
    if not store_exists(settings.store_kind, settings.index_dir):
        return []
    store = open_store(settings.store_kind, settings.index_dir, settings.store)
    return [store.article(doc_id) for doc_id in store.doc_ids()]


def _upload_name(path: Path, given: str | None) -> str:
    """The file name ids are taken from: the reader's, made safe, or a content one for a
    tempfile name."""
    name = re.split(r"[/\\]", given)[-1] if given else path.name
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = _UNSAFE.sub("_", stem).strip("._")
    if not stem or (given is None and _TEMP_STEM.match(stem)):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        except OSError:
            digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        stem = f"upload-{digest}"
    return f"{stem}.{suffix}" if suffix else stem


def _load(path: Path, name: str, limits: InputLimits) -> Loaded:
    """The file's articles as if it were named `name`; a refusal is an InputError whose
    one-line reason names `name`, not a temporary path, and so are the reasons in `skipped`."""
    if name == path.name:
        return _load_as(path, name, limits)
    with tempfile.TemporaryDirectory(prefix="rag-upload-") as folder:
        copy = Path(folder) / name
        try:
            shutil.copyfile(path, copy)
        except OSError as err:
            raise InputError(f"{name}: cannot read the file: {err.strerror or err}") from None
        return _load_as(copy, name, limits)


def _load_as(path: Path, name: str, limits: InputLimits) -> Loaded:
    try:
        loaded = load_file(path, limits)
    except RagError as err:
        raise InputError(_one_line(str(err).replace(str(path), name))) from None
    loaded.skipped = [_one_line(reason.replace(str(path), name)) for reason in loaded.skipped]
    for article in loaded.articles:  # `x.jsonl:3`, not the server's temporary path
        article.source = article.source.replace(str(path), name)
    if loaded.encodings:  # one file: one encoding
        loaded.encodings = {name: next(iter(loaded.encodings.values()))}
    return loaded


def _one_line(message: str) -> str:
    return " ".join(message.split())


# ---------------------------------------------------------------- removing


def remove_article(target: Settings | Path, doc_id: str) -> IngestReport:
    """Delete one article; an unknown id is an InputError naming the known ones."""
    settings = _settings(target)
    with _writing(settings.index_dir):
        store = open_store(settings.store_kind, settings.index_dir, settings.store)
        return store.delete([doc_id])


# ---------------------------------------------------------------- reloading


def loaded_version(rag: RAG) -> str | None:
    """The index version `rag` answers from."""
    version = rag.index.info().get("version")
    return str(version) if version is not None else None


def reopen_if_changed(rag: RAG, known_version: str | None = None) -> RAG | None:
    """A new RAG on the index's current version if the one on disk is not the one `rag`
    loaded (`known_version`, when the caller already knows it), reusing its embedder,
    answerer and settings; None when nothing changed or the store is not on disk."""
    location = Path(rag.index.location)
    on_disk = live_version(rag.index.kind, location)
    if on_disk is None or on_disk == (known_version or loaded_version(rag)):
        return None
    return RAG(location, embedder=rag.embedder, answerer=rag.answerer, settings=rag.settings)


class LiveRAG:
    """The RAG a long-running page answers with, replaced by a fresh one when the index on
    disk moves to a new version.

    Take `live.rag` once per question and use that object for the whole question; call
    `reload_if_changed()` after `add_files` / `remove_article` (or before each question). The
    new RAG is opened completely before it is swapped in; questions already running finish on
    the old one."""

    def __init__(self, rag: RAG) -> None:
        self._rag = rag
        self._version = loaded_version(rag)
        self._reloading = threading.Lock()

    @property
    def rag(self) -> RAG:
        return self._rag

    @property
    def version(self) -> str | None:
        return self._version

    def reload_if_changed(self, wait: bool = True) -> bool:
        """Swap in a RAG on the current index version if it changed; whether it did.

        One reload at a time: a second caller waits and then finds it current, or with
        `wait=False` (a question about to be answered) goes on at once with the RAG loaded
        now rather than queueing behind the reload."""
        if not self._reloading.acquire(blocking=wait):
            return False
        try:
            fresh = reopen_if_changed(self._rag, self._version)
            if fresh is None:
                return False
            self._rag, self._version = fresh, loaded_version(fresh)
            return True
        finally:
            self._reloading.release()
