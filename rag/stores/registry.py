"""One registry of stores by name; unknown names list the known ones.

Each factory imports its backend only when asked for, so a missing optional dependency fails
with the store that needs it, not on import.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.embedders import Embedder, get_embedder
from rag.errors import ConfigError
from rag.ingest.text import ChunkingSettings
from rag.stores.base import Store


def _faiss_bm25(
    path: Path | None, embedder: str | Embedder | None, settings: ChunkingSettings | None
) -> Store:
    from rag.stores import faiss_bm25

    if path is None:
        raise ConfigError("the faiss_bm25 store lives in a folder: give its path (--index DIR)")
    name = embedder.id if isinstance(embedder, Embedder) else embedder
    return faiss_bm25.at(path, name, settings)


def _memory(
    path: Path | None, embedder: str | Embedder | None, settings: ChunkingSettings | None
) -> Store:
    from rag.stores.memory import MemoryStore

    loaded = embedder if isinstance(embedder, Embedder) else get_embedder(embedder)
    return MemoryStore(loaded, settings)


_REGISTRY: dict[
    str, Callable[[Path | None, str | Embedder | None, ChunkingSettings | None], Store]
] = {
    "faiss_bm25": _faiss_bm25,  # the on-disk default: see rag/stores/faiss_bm25.py
    "memory": _memory,  # in this process only, for tests: see rag/stores/memory.py
}


def known_stores() -> list[str]:
    return sorted(_REGISTRY)


def get_store(
    name: str,
    path: Path | None = None,
    embedder: str | Embedder | None = None,
    settings: ChunkingSettings | None = None,
) -> Store:
    """The store `name` at `path` (opened if it exists, else new, to be built with `embedder`
    and `settings`)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown store {name!r}; known: {', '.join(known_stores())}")
    return _REGISTRY[name](path, embedder, settings)
