"""One registry of stores by name; unknown names list the known ones.

Each entry imports its backend only when asked for, so a missing optional dependency fails with
the store that needs it, not on import. `get_store` opens a store or starts a new one (to be
built by `upsert`); `open_store` wants one that exists, as answering questions does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.config import ChunkingSettings, StoreSettings
from rag.embedders import Embedder, get_embedder
from rag.errors import ConfigError, IndexUnavailable
from rag.stores.base import Store


@dataclass(frozen=True)
class Backend:
    # (path, embedder, chunking, tuning, rebuild): rebuild starts afresh where one exists
    create: Callable[
        [Path | None, str | Embedder | None, ChunkingSettings | None, StoreSettings | None, bool],
        Store,
    ]
    exists: Callable[[Path | None], bool]
    # The version a fresh open would load (None: nothing on disk to reopen).
    version: Callable[[Path | None], str | None] = lambda path: None


def _folder(path: Path | None, kind: str) -> Path:
    if path is None:
        raise ConfigError(f"the {kind} store lives in a folder: give its path (--index DIR)")
    return path


def _faiss_folder(path: Path | None) -> Path:
    return _folder(path, "faiss_bm25")


def _faiss_bm25(
    path: Path | None,
    embedder: str | Embedder | None,
    settings: ChunkingSettings | None,
    tuning: StoreSettings | None,
    rebuild: bool,
) -> Store:
    from rag.stores import faiss_bm25

    name = embedder.id if isinstance(embedder, Embedder) else embedder
    store = faiss_bm25.at(_faiss_folder(path), name, settings, tuning, rebuild)
    store.check_request(name, settings)
    return store


def _faiss_exists(path: Path | None) -> bool:
    from rag.stores import faiss_bm25

    return faiss_bm25.exists(_faiss_folder(path))


def _faiss_version(path: Path | None) -> str | None:
    from rag.stores import faiss_bm25

    return faiss_bm25.live_version(_faiss_folder(path))


def _memory(
    path: Path | None,
    embedder: str | Embedder | None,
    settings: ChunkingSettings | None,
    tuning: StoreSettings | None,
    rebuild: bool,
) -> Store:
    from rag.stores.memory import MemoryStore

    if isinstance(embedder, Embedder):
        return MemoryStore(embedder, settings, tuning=tuning)
    return MemoryStore(get_embedder(embedder), settings, name=embedder, tuning=tuning)


def _milvus(uri: str | None) -> Backend:
    """The Milvus store for a `--store` value naming where its vectors go (None: plain
    `milvus`, which opens one that exists); the folder at `path` holds the rest and records the
    URI, so reopening it needs only the folder."""

    def create(
        path: Path | None,
        embedder: str | Embedder | None,
        settings: ChunkingSettings | None,
        tuning: StoreSettings | None,
        rebuild: bool,
    ) -> Store:
        from rag.stores import faiss_bm25
        from rag.stores.milvus import MilvusStore

        folder = _folder(path, "milvus")
        if faiss_bm25.exists(folder) and not rebuild:
            return _faiss_bm25(folder, embedder, settings, tuning, rebuild)  # opens any folder
        if uri is None:
            raise ConfigError(
                f"a new milvus store needs to know where its vectors go: --store "
                f"milvus:PATH.db or --store http://HOST:PORT (not plain milvus) for {folder}"
            )
        name = embedder.id if isinstance(embedder, Embedder) else embedder
        return MilvusStore.create(folder, uri, name, settings, tuning)

    return Backend(create, _faiss_exists, _faiss_version)


_REGISTRY: dict[str, Backend] = {
    # the on-disk default: see rag/stores/faiss_bm25.py
    "faiss_bm25": Backend(_faiss_bm25, _faiss_exists, _faiss_version),
    # in this process only, for tests: see rag/stores/memory.py; never "exists" to be reopened
    "memory": Backend(_memory, lambda path: False),
    # a Milvus store that exists (its folder names the URI); a new one is spelled with its URI
    "milvus": _milvus(None),
}
# Spelled with where the vectors go: see rag/stores/milvus.py.
MILVUS_SPECS = ("milvus:PATH.db", "http://HOST:PORT")


def known_stores() -> list[str]:
    return sorted(_REGISTRY)


def _backend(name: str) -> Backend:
    from rag.stores import milvus

    if milvus.is_spec(name):
        return _milvus(milvus.uri_of(name))
    if name not in _REGISTRY:
        known = ", ".join([*known_stores(), *MILVUS_SPECS])
        raise ConfigError(f"unknown store {name!r}; known: {known}")
    return _REGISTRY[name]


def recorded_store(path: Path | None) -> str | None:
    """The kind of store the folder at `path` holds (None: none there), from its manifest."""
    from rag.stores import faiss_bm25

    return None if path is None else faiss_bm25.recorded_kind(path)


def store_exists(name: str, path: Path | None) -> bool:
    return _backend(name).exists(path)


def live_version(name: str, path: Path | None) -> str | None:
    """The version of the store at `path` that opening it now would load, to tell whether a
    loaded copy is stale; None where there is none on disk (or the backend keeps none)."""
    return _backend(name).version(path)


def get_store(
    name: str,
    path: Path | None = None,
    embedder: str | Embedder | None = None,
    settings: ChunkingSettings | None = None,
    tuning: StoreSettings | None = None,
    rebuild: bool = False,
) -> Store:
    """The store `name` at `path`: opened if it exists, else new, to be built with `embedder`
    and `settings` (an existing one refuses other ones); `rebuild` starts a new one even where
    one exists, as replacing a damaged index needs."""
    return _backend(name).create(path, embedder, settings, tuning, rebuild)


def open_store(name: str, path: Path | None, tuning: StoreSettings | None = None) -> Store:
    """A store that exists, for answering; a missing one says what to run."""
    if not store_exists(name, path):
        raise IndexUnavailable(f"no index at {path}: run `rag ingest corpus --index {path}` first")
    return get_store(name, path, tuning=tuning)
