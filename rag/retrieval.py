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


MIN_SENTENCES_PER_LANG = 20


def sentence_similarities(index: Index, query_vector: np.ndarray) -> np.ndarray:
    """Cosine of the query with every sentence, each language lifted to the same mean.

    A small multilingual embedder scores any sentence in the question's own language higher
    than a better answer in another: an English question ranks unrelated English sentences
    above the one Chinese sentence with the figure. Lifting each language's scores to the
    highest language mean (where it holds enough sentences to estimate one) removes that bias
    from the ranking.
    """
    sims = index.sentence_vectors @ query_vector
    lang_ids = index.sentence_lang_ids
    if len(sims) == 0 or lang_ids.max(initial=0) == 0:
        return sims
    counts = np.bincount(lang_ids)
    means = np.bincount(lang_ids, weights=sims) / np.maximum(counts, 1)
    reliable = counts >= MIN_SENTENCES_PER_LANG
    top = float(means[reliable].max()) if reliable.any() else 0.0
    shift = np.where(reliable, top - means, 0.0)
    return (sims + shift[lang_ids]).astype(np.float32)


def sentence_ranking(
    index: Index, sims: np.ndarray, rows: np.ndarray | None, n: int
) -> list[tuple[int, float]]:
    """Chunks ranked by their best-matching sentence.

    A 200-token chunk's one vector blurs the single sentence a question is about, most of all
    across languages; the sentence vectors (already stored for the answerer) keep it sharp.
    """
    owners = index.sentence_chunk_rows
    if len(owners) == 0:
        return []
    best = np.full(len(index.chunks), -np.inf, dtype=np.float32)
    np.maximum.at(best, owners, sims)
    if rows is not None:
        allowed = np.zeros(len(best), dtype=bool)
        allowed[rows] = True
        best = np.where(allowed, best, -np.inf)
    top = np.argsort(-best, kind="stable")[:n]
    return [(int(i), float(best[i])) for i in top if np.isfinite(best[i])]


def search(
    index: Index,
    query: str,
    query_vector: np.ndarray,
    k: int = 5,
    filters: Filters | None = None,
    sentence_sims: np.ndarray | None = None,
) -> list[Hit]:
    """Top-k chunks by RRF over the chunk-dense, lexical and best-sentence rankings (each cut at
    CANDIDATES)."""
    filters = filters or Filters()
    rows = _admitted_rows(index, filters)
    depth = max(CANDIDATES, k)
    dense = dense_ranking(index, query_vector, rows, depth)
    lexical = lexical_ranking(index, query, rows, depth)
    if sentence_sims is None:
        sentence_sims = sentence_similarities(index, query_vector)
    sentences = sentence_ranking(index, sentence_sims, rows, depth)
    fused: dict[int, float] = {}
    for ranking in (dense, lexical, sentences):
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    dense_scores = dict(dense)
    lexical_scores = dict(lexical)
    order = sorted(fused, key=lambda r: (-fused[r], -dense_scores.get(r, -1.0)))[:k]
    return [
        Hit(index.chunks[row], fused[row], dense_scores.get(row), lexical_scores.get(row), rank)
        for rank, row in enumerate(order)
    ]
