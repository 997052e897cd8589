"""An in-memory store: exact dense search in numpy and a plain BM25, nothing written anywhere.

For tests and small experiments: it needs no optional dependency and no folder, and it shows
what another backend has to provide (see `ArrayStore`'s hooks).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.config import ChunkingSettings, StoreSettings
from rag.embedders import Embedder
from rag.ingest import text as textmod
from rag.ingest.chunking import DocEntry
from rag.stores.arrays import ArrayStore

KIND = "memory"
BM25_K1 = 1.5
BM25_B = 0.75


class MemoryStore(ArrayStore):
    """Articles embedded with `embedder`, held in this process only."""

    kind = KIND

    def __init__(
        self,
        embedder: Embedder,
        settings: ChunkingSettings | None = None,
        name: str | None = None,
        tuning: StoreSettings | None = None,
    ) -> None:
        """`name` is the embedder's registry name (`minilm`), recorded so that `RAG(index=…)`
        loads the same one; without it, the embedder's id."""
        self._embedder_object = embedder
        manifest = {
            "store": KIND,
            "version": "memory",
            "embedder": {"name": name or embedder.id, "id": embedder.id, "dim": embedder.dim},
            "chunking": (settings or ChunkingSettings()).as_dict(),
            "lexical": {"scheme": "bm25", "tokens": "cjk-bigrams+snowball+numbers"},
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        empty = np.empty((0, embedder.dim), np.float32)
        super().__init__(manifest, {}, empty, empty, tuning)
        self._index_terms()

    @property
    def location(self) -> str:
        return KIND

    def _embedder(self) -> Embedder:
        return self._embedder_object

    def _commit(
        self,
        docs: dict[str, DocEntry],
        chunk_vectors: np.ndarray,
        sentence_vectors: np.ndarray,
        embedder_info: dict[str, Any],
    ) -> None:
        self.manifest["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self._hold(docs, chunk_vectors, sentence_vectors)
        self._index_terms()

    def _index_terms(self) -> None:
        """Term counts per chunk, document frequencies and lengths: all BM25 needs."""
        self._counts = [Counter(textmod.lexical_tokens(c.text, [c.lang])) for c in self.chunks()]
        self._df: Counter[str] = Counter(t for counts in self._counts for t in counts)
        lengths = np.array([sum(c.values()) for c in self._counts], dtype=np.float64)
        self._length_ratio = lengths / max(float(lengths.mean()) if len(lengths) else 1.0, 1.0)

    # ------------------------------------------------------------ backend hooks

    def _dense_rows(
        self, vector: np.ndarray, rows: np.ndarray | None, n: int
    ) -> list[tuple[int, float]]:
        scores = np.asarray(self.chunk_vectors @ vector, dtype=np.float32)
        if rows is not None:
            scores = np.where(np.isin(np.arange(len(scores)), rows), scores, -np.inf)
        top = np.argsort(-scores, kind="stable")[:n]
        return [(int(i), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _lexical_scores(self, terms: Sequence[str]) -> np.ndarray | None:
        known = [t for t in terms if t in self._df]
        if not known:
            return None
        n = len(self._counts)
        scores = np.zeros(n, dtype=np.float64)
        for term in known:
            idf = math.log(1 + (n - self._df[term] + 0.5) / (self._df[term] + 0.5))
            tf = np.array([counts[term] for counts in self._counts], dtype=np.float64)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self._length_ratio)
            scores += idf * tf * (BM25_K1 + 1) / (tf + norm)
        return scores

    def has_term(self, term: str) -> bool:
        return term in self._df

    def _term_presence(self, term: str) -> np.ndarray:
        return np.array([term in counts for counts in self._counts], dtype=bool)
