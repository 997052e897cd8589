"""Hybrid retrieval: FAISS dense search and BM25 fused by reciprocal rank fusion, with filters."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag import lang as langmod
from rag.ingest import text as textmod
from rag.retrieval import dictionary
from rag.stores.faiss_bm25 import ChunkRow, Index

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


def admitted_rows(index: Index, filters: Filters) -> np.ndarray | None:
    if not filters.active():
        return None
    return np.array([c.row for c in index.chunks if filters.admits(index, c)], dtype=np.int64)


def row_mask(n: int, rows: np.ndarray | None) -> np.ndarray:
    """True for the admitted rows (all of them when there is no filter)."""
    if rows is None:
        return np.ones(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


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


def lexical_rankings(
    index: Index, query: str, query_lang: str, rows: np.ndarray | None, n: int
) -> list[tuple[list[tuple[int, float]], float]]:
    """BM25 rankings with their weights in the fusion.

    Within the question's language BM25 sees every word; its weight is the share of the
    question's tokens that the index knows. Across languages it would see stray function
    words and numbers (measured on XQuAD en→zh, letting it vote cost a tenth of recall@1), so
    there it scores only the question's names, codes and numbers, weighted by their share.
    """
    if index.bm25 is None:
        return []
    scoped = row_mask(len(index.chunks), rows)
    same = index.chunk_lang_ids == (
        index.langs.index(query_lang) if query_lang in index.langs else -1
    )
    tokens = textmod.lexical_tokens(query, [query_lang])
    names = textmod.lexical_tokens(" ".join(textmod.name_terms(query)), index.langs)
    translated = textmod.lexical_tokens(
        " ".join(dictionary.translate_question_terms(query, query_lang)), index.langs
    )
    rankings = [(tokens, same, tokens), (names, ~same, tokens), (translated, ~same, translated)]
    out = []
    for terms, allowed, share_of in rankings:
        token_ids = index.bm25.get_tokens_ids(terms)
        if not token_ids or not share_of or not (allowed & scoped).any():
            continue
        scores = np.where(allowed & scoped, index.bm25.get_scores(token_ids), 0.0)
        top = np.argsort(-scores, kind="stable")[:n]
        ranking = [(int(i), float(scores[i])) for i in top if scores[i] > 0]
        if ranking:
            out.append((ranking, min(1.0, len(token_ids) / len(share_of))))
    return out


MIN_SENTENCES_PER_LANG = 20
# Up to this many sentences every one is scored (a 100k × 384 product is a few ms); above it,
# only the sentences of the dense and lexical candidates, so a query's cost stays flat.
SENTENCE_SCAN_LIMIT = 100_000


def language_stats(
    index: Index, query_vector: np.ndarray, all_sims: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per language id: the mean and spread of the query's cosine with that language's
    sentences (`all_sims`: those cosines, when the caller has them for every sentence). Above
    the scan limit they are estimated on an even sample, so the cost stays flat.
    """
    n_langs = max(1, len(index.langs))
    lang_ids = index.sentence_lang_ids
    if len(lang_ids) == 0:
        return np.zeros(n_langs, np.float32), np.ones(n_langs, np.float32)
    stride = max(1, len(lang_ids) // SENTENCE_SCAN_LIMIT)
    lang_ids = lang_ids[::stride]
    sims = (index.sentence_vectors @ query_vector if all_sims is None else all_sims)[::stride]
    counts = np.maximum(np.bincount(lang_ids, minlength=n_langs), 1)
    means = np.bincount(lang_ids, weights=sims, minlength=n_langs) / counts
    squares = np.bincount(lang_ids, weights=sims * sims, minlength=n_langs) / counts
    spread = np.sqrt(np.maximum(squares - means * means, 1e-6))
    return means.astype(np.float32), spread.astype(np.float32)


def language_shift(
    index: Index, query_vector: np.ndarray, all_sims: np.ndarray | None = None
) -> np.ndarray:
    """Per language id, what to add to a sentence's cosine so every language has the same mean.

    A small multilingual embedder scores any sentence in the question's own language higher
    than a better answer in another: an English question ranks unrelated English sentences
    above the one Chinese sentence with the figure. Lifting each language's scores to the
    highest language mean (where it holds enough sentences to estimate one) removes that bias.
    """
    lang_ids = index.sentence_lang_ids
    if len(lang_ids) == 0 or lang_ids.max(initial=0) == 0:
        return np.zeros(max(1, len(index.langs)), dtype=np.float32)
    means, _ = language_stats(index, query_vector, all_sims)
    counts = np.bincount(lang_ids, minlength=len(means))
    reliable = counts >= MIN_SENTENCES_PER_LANG
    top = float(means[reliable].max()) if reliable.any() else 0.0
    return np.where(reliable, top - means, 0.0).astype(np.float32)


def sentence_similarities(
    index: Index, query_vector: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Cosine of the query with the sentences `rows` (default all), each language lifted to the
    same mean (see `language_shift`)."""
    vectors = index.sentence_vectors if rows is None else index.sentence_vectors[rows]
    lang_ids = index.sentence_lang_ids if rows is None else index.sentence_lang_ids[rows]
    sims = vectors @ query_vector
    if len(sims) == 0 or lang_ids.max(initial=0) == 0:
        return sims
    shift = language_shift(index, query_vector, sims if rows is None else None)
    return (sims + shift[lang_ids]).astype(np.float32)


def sentence_ranking(
    index: Index,
    query_vector: np.ndarray,
    candidates: set[int] | None,
    rows: np.ndarray | None,
    n: int,
) -> list[tuple[int, float]]:
    """Chunks ranked by their best-matching sentence (among `candidates` chunks, if given).

    A 200-token chunk's one vector blurs the single sentence a question is about, most of all
    across languages; the sentence vectors (already stored for the answerer) keep it sharp.
    """
    if len(index.sentences) == 0:
        return []
    sentence_rows = None
    if candidates is not None:
        chunks = index.chunks
        sentence_rows = np.array(
            [r for c in sorted(candidates) for r in chunks[c].sentence_rows], dtype=np.int64
        )
    sims = sentence_similarities(index, query_vector, sentence_rows)
    owners = index.sentence_chunk_rows
    owners = owners if sentence_rows is None else owners[sentence_rows]
    best = np.full(len(index.chunks), -np.inf, dtype=np.float32)
    np.maximum.at(best, owners, sims)
    if rows is not None:
        best = np.where(row_mask(len(best), rows), best, -np.inf)
    top = np.argsort(-best, kind="stable")[:n]
    return [(int(i), float(best[i])) for i in top if np.isfinite(best[i])]


def search(
    index: Index,
    query: str,
    query_vector: np.ndarray,
    k: int = 5,
    filters: Filters | None = None,
    query_lang: str | None = None,
    per_language: int = 0,
) -> list[Hit]:
    """Top-k chunks by RRF over the chunk-dense, lexical and best-sentence rankings (each cut at
    CANDIDATES), then, with `per_language`, the best chunks of each language the top k lacks.

    An answerer needs to see candidates in every language: the fused ranking still leans to the
    question's language (its BM25 reads every word only there), and the one Chinese chunk with
    the figure an English question asks for may rank seventh."""
    filters = filters or Filters()
    query_lang = query_lang or langmod.detect_question(query)
    rows = admitted_rows(index, filters)
    depth = max(CANDIDATES, k)
    dense = dense_ranking(index, query_vector, rows, depth)
    lexical = lexical_rankings(index, query, query_lang, rows, depth)
    candidates = None
    if len(index.sentences) > SENTENCE_SCAN_LIMIT:
        candidates = {row for row, _ in dense} | {row for r, _ in lexical for row, _ in r}
    sentences = sentence_ranking(index, query_vector, candidates, rows, depth)
    fused: dict[int, float] = {}
    for ranking, weight in [(dense, 1.0), *lexical, (sentences, 1.0)]:
        for rank, (row, _) in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + weight / (RRF_K + rank + 1)
    dense_scores = dict(dense)
    lexical_scores = {row: score for ranking, _ in lexical for row, score in ranking}
    ranked = sorted(fused, key=lambda r: (-fused[r], -dense_scores.get(r, -1.0)))
    order = ranked[:k] + _language_backfill(index, ranked, k, per_language)
    return [
        Hit(index.chunks[row], fused[row], dense_scores.get(row), lexical_scores.get(row), rank)
        for rank, row in enumerate(order)
    ]


def _language_backfill(index: Index, ranked: list[int], k: int, per_language: int) -> list[int]:
    """Rows after the top k that bring each language up to `per_language` chunks."""
    if per_language <= 0 or len(index.langs) < 2:
        return []
    have = {lang: 0 for lang in index.langs}
    for row in ranked[:k]:
        have[index.chunks[row].lang] += 1
    extra = []
    for row in ranked[k:]:
        lang = index.chunks[row].lang
        if have[lang] < per_language:
            have[lang] += 1
            extra.append(row)
    return extra
