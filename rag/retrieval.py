"""Hybrid retrieval: FAISS dense search and BM25 fused by reciprocal rank fusion, with filters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag import text as textmod
from rag.store import ChunkRow, Index

RRF_K = 60
CANDIDATES = 50


@dataclass(frozen=True)
class Filters:
    """Optional restrictions; a date filter keeps only articles whose date is known and in range."""

    lang: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    doc_ids: frozenset[str] = field(default_factory=frozenset)

    def active(self) -> bool:
        return bool(self.lang or self.date_from or self.date_to or self.doc_ids)

    def admits(self, index: Index, chunk: ChunkRow) -> bool:
        if self.lang and chunk.lang != self.lang:
            return False
        if self.doc_ids and chunk.doc_id not in self.doc_ids:
            return False
        if self.date_from or self.date_to:
            date = index.article(chunk.doc_id).date
            if date is None:
                return False
            if self.date_from and date < self.date_from:
                return False
            if self.date_to and date > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class Hit:
    chunk: ChunkRow
    score: float
    dense: float | None
    lexical: float | None
    rank: int


def _admitted_rows(index: Index, filters: Filters) -> np.ndarray | None:
    if not filters.active():
        return None
    return np.array([c.row for c in index.chunks if filters.admits(index, c)], dtype=np.int64)


def dense_ranking(
    index: Index, query_vector: np.ndarray, rows: np.ndarray | None, n: int
) -> list[tuple[int, float]]:
    import faiss

    if index.faiss.ntotal == 0 or (rows is not None and len(rows) == 0):
        return []
    n = min(n, index.faiss.ntotal if rows is None else len(rows))
    params = None
    if rows is not None:
        selector = faiss.IDSelectorBatch(rows)  # kept referenced until the search returns
        params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
    scores, ids = index.faiss.search(query_vector.reshape(1, -1), n, params=params)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def lexical_ranking(
    index: Index, query: str, rows: np.ndarray | None, n: int
) -> list[tuple[int, float]]:
    if index.bm25 is None:
        return []
    token_ids = index.bm25.get_tokens_ids(textmod.lexical_tokens(query, index.langs))
    if not token_ids:
        return []
    scores = index.bm25.get_scores(token_ids)
    if rows is not None:
        allowed = np.zeros(len(scores), dtype=bool)
        allowed[rows] = True
        scores = np.where(allowed, scores, 0.0)
    top = np.argsort(-scores, kind="stable")[:n]
    return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def search(
    index: Index,
    query: str,
    query_vector: np.ndarray,
    k: int = 5,
    filters: Filters | None = None,
) -> list[Hit]:
    """Top-k chunks by RRF over the dense and the lexical rankings (each cut at CANDIDATES)."""
    filters = filters or Filters()
    rows = _admitted_rows(index, filters)
    depth = max(CANDIDATES, k)
    dense = dense_ranking(index, query_vector, rows, depth)
    lexical = lexical_ranking(index, query, rows, depth)
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    dense_scores = dict(dense)
    lexical_scores = dict(lexical)
    order = sorted(fused, key=lambda r: (-fused[r], -dense_scores.get(r, -1.0)))[:k]
    return [
        Hit(index.chunks[row], fused[row], dense_scores.get(row), lexical_scores.get(row), rank)
        for rank, row in enumerate(order)
    ]
