"""Hybrid retrieval: the store's dense, lexical and best-sentence rankings fused by reciprocal
rank fusion, with filters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rag import lang as langmod
from rag.config import RetrievalSettings
from rag.ingest import text as textmod
from rag.retrieval import dictionary
from rag.stores.base import Chunk, ChunkHit, Filters, Store, StoreQuery


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float
    dense: float | None
    lexical: float | None
    rank: int


def scope_of(filters: Filters | None) -> Filters | None:
    """The filters that restrict anything, else None (every chunk is in scope)."""
    return filters if filters is not None and filters.active() else None


def lexical_rankings(
    index: Store, query: str, query_lang: str, scope: Filters | None, n: int
) -> list[tuple[list[ChunkHit], float]]:
    """BM25 rankings with their weights in the fusion.

    Within the question's language BM25 sees every word; its weight is the share of the
    question's tokens that the index knows. Across languages it would see stray function
    words and numbers (measured on XQuAD en→zh, letting it vote cost a tenth of recall@1), so
    there it scores only the question's names, codes and numbers, weighted by their share.
    """
    same = frozenset({query_lang})
    other = frozenset(index.langs) - same
    tokens = textmod.lexical_tokens(query, [query_lang])
    names = textmod.lexical_tokens(" ".join(textmod.name_terms(query)), index.langs)
    translated = textmod.lexical_tokens(
        " ".join(dictionary.translate_question_terms(query, query_lang)), index.langs
    )
    rankings = [(tokens, same, tokens), (names, other, tokens), (translated, other, translated)]
    out = []
    for terms, langs, share_of in rankings:
        known = sum(index.has_term(t) for t in terms)
        if not known or not share_of:
            continue
        ranking = index.lexical_search(
            StoreQuery(terms=tuple(terms), k=n, filters=scope, langs=langs)
        )
        if ranking:
            out.append((ranking, min(1.0, known / len(share_of))))
    return out


def search(
    index: Store,
    query: str,
    query_vector: np.ndarray,
    k: int = 5,
    filters: Filters | None = None,
    query_lang: str | None = None,
    per_language: int = 0,
    tuning: RetrievalSettings | None = None,
) -> list[Hit]:
    """Top-k chunks by RRF over the chunk-dense, lexical and best-sentence rankings (each cut at
    `tuning.candidates`), then, with `per_language`, the best chunks of each language the top k
    lacks.

    An answerer needs to see candidates in every language: the fused ranking still leans to the
    question's language (its BM25 reads every word only there), and the one Chinese chunk with
    the figure an English question asks for may rank seventh."""
    scope = scope_of(filters)
    query_lang = query_lang or langmod.detect_question(query)
    tuning = tuning or RetrievalSettings()
    depth = max(tuning.candidates, k)
    by_vector = StoreQuery(vector=query_vector, k=depth, filters=scope)
    dense = index.dense_search(by_vector)
    lexical = lexical_rankings(index, query, query_lang, scope, depth)
    candidates = {h.chunk_id for h in dense} | {h.chunk_id for r, _ in lexical for h in r}
    sentences = index.sentence_search(by_vector, candidates)
    fused: dict[str, float] = {}
    for ranking, weight in [(dense, 1.0), *lexical, (sentences, 1.0)]:
        for rank, hit in enumerate(ranking):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (tuning.rrf_k + rank + 1)
    dense_scores = {h.chunk_id: h.score for h in dense}
    lexical_scores = {h.chunk_id: h.score for ranking, _ in lexical for h in ranking}
    ranked = sorted(fused, key=lambda c: (-fused[c], -dense_scores.get(c, -1.0)))
    order = ranked[:k] + _language_backfill(index, ranked, k, per_language)
    return [
        Hit(index.chunk(c), fused[c], dense_scores.get(c), lexical_scores.get(c), rank)
        for rank, c in enumerate(order)
    ]


def _language_backfill(index: Store, ranked: list[str], k: int, per_language: int) -> list[str]:
    """Chunks after the top k that bring each language up to `per_language` chunks."""
    if per_language <= 0 or len(index.langs) < 2:
        return []
    have = {lang: 0 for lang in index.langs}
    for chunk_id in ranked[:k]:
        have[index.chunk(chunk_id).lang] += 1
    extra = []
    for chunk_id in ranked[k:]:
        lang = index.chunk(chunk_id).lang
        if have[lang] < per_language:
            have[lang] += 1
            extra.append(chunk_id)
    return extra
